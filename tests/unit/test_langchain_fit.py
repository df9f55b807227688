"""ChatZephyr as LangChain 1.x code expects it, without sockets or weights: profile, token
counts, cache keys and tracing, serialization and pickling (the live parts are in
tests/integration/test_langchain_fit.py)."""

from __future__ import annotations

import copy
import pickle
import warnings
from typing import Any

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.load import dumpd, dumps, load
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import ValidationError

from zephyr_integrations import ChatZephyr
from zephyr_integrations.profile import BackendProfile
from zephyr_integrations.template import UnsupportedContentError
from zephyr_integrations.testing import ScriptedBackend


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return city


def scripted(**kwargs: Any) -> tuple[ChatZephyr, ScriptedBackend]:
    backend = ScriptedBackend(reply="It is sunny today.", grammar=True)
    return ChatZephyr(backend=backend, **kwargs), backend


# -- profile ---------------------------------------------------------------------------------


def test_profile_reports_capabilities_without_touching_the_backend() -> None:
    llm = ChatZephyr(backend="tgi", base_url="http://127.0.0.1:9")  # no server: never asked
    assert isinstance(llm.profile, BackendProfile) and llm.profile
    assert "not read yet" in repr(llm.profile)
    llm, _ = scripted()
    profile = llm.profile
    assert profile is not None
    assert profile["tool_calling"] and profile["tool_choice"] and profile["structured_output"]
    assert profile["text_inputs"] and not profile["image_inputs"]
    assert "max_input_tokens" not in profile  # the scripted backend has no token limits
    plain = ChatZephyr(backend=ScriptedBackend())
    assert plain.profile is not None and plain.profile["structured_output"] is False


def test_a_profile_copies_and_pickles_without_its_lock() -> None:
    llm = ChatZephyr()  # the default Hub id: never loaded here
    copied = copy.deepcopy(llm)
    assert isinstance(copied.profile, BackendProfile) and copied.profile == llm.profile
    assert pickle.loads(pickle.dumps(llm.profile)) == dict(llm.profile or {})


def test_a_user_profile_wins() -> None:
    llm, _ = scripted(profile={"max_input_tokens": 2048, "tool_calling": False})
    assert llm.profile == {"max_input_tokens": 2048, "tool_calling": False}


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"max_input_tokens": "lots"}, r"profile\['max_input_tokens'\]='lots' is invalid"),
        ({"max_output_tokens": 0}, r"profile\['max_output_tokens'\]=0 is invalid"),
        ({"max_input_tokens": True}, r"profile\['max_input_tokens'\]=True is invalid"),
        ({"tool_calling": "yes"}, r"profile\['tool_calling'\]='yes' is invalid"),
        ({"name": 7}, r"profile\['name'\]=7 is invalid"),
        ("big", r"profile='big' is invalid"),
    ],
)
def test_a_profile_of_the_wrong_types_is_refused_naming_the_field(
    profile: Any, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        ChatZephyr(backend=ScriptedBackend(), profile=profile)


# -- token counts ----------------------------------------------------------------------------


def test_message_counts_are_the_input_tokens_of_the_call() -> None:
    llm, _ = scripted()
    messages = [
        SystemMessage("You are terse."),
        HumanMessage("What is the weather in Paris today?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "1"}]),
        ToolMessage("sunny", tool_call_id="1"),
    ]
    counted = llm.get_num_tokens_from_messages(messages)
    reported = llm.invoke(messages).usage_metadata
    assert reported is not None and counted == reported["input_tokens"]
    with_tools = llm.get_num_tokens_from_messages(messages, tools=[get_weather])
    reply = llm.bind_tools([get_weather]).invoke(messages).usage_metadata
    assert reply is not None and with_tools == reply["input_tokens"] > counted
    assert llm.get_num_tokens("one two three") == 4  # BOS, then the scripted words
    assert llm.get_num_tokens_from_messages([]) == 0


def test_counting_content_zephyr_cannot_read_names_the_block() -> None:
    llm, _ = scripted()
    image = HumanMessage(content=[{"type": "text", "text": "see"}, {"type": "image", "url": "x"}])
    with pytest.raises(UnsupportedContentError, match=r"messages\[0\].*block 1 is 'image'"):
        llm.get_num_tokens_from_messages([image])


def test_a_backend_without_a_tokenizer_says_so() -> None:
    class NoTokenizer(ScriptedBackend):
        tokenize = None  # type: ignore[assignment]

    with pytest.raises(NotImplementedError, match="NoTokenizer cannot count tokens"):
        ChatZephyr(backend=NoTokenizer()).get_num_tokens("hi")


# -- cache keys and tracing ------------------------------------------------------------------


def test_cache_keys_differ_per_server_and_served_model() -> None:
    a = ChatZephyr(backend="tgi", base_url="http://127.0.0.1:9", model="m")
    b = ChatZephyr(backend="tgi", base_url="http://127.0.0.1:10", model="m")
    c = ChatZephyr(backend="tgi", base_url="http://127.0.0.1:9", model="other")
    keys = {llm._get_llm_string() for llm in (a, b, c)}
    assert len(keys) == 3
    assert '"base_url": "http://127.0.0.1:9"' in a._get_llm_string()
    assert '"served_model": "m"' in a._get_llm_string()
    ls = a._get_ls_params()
    assert ls["ls_model_name"] == "m"
    assert ls.get("ls_base_url") == "http://127.0.0.1:9" and ls.get("ls_backend") == "tgi"


def test_two_backends_never_share_cache_entries() -> None:
    cache = InMemoryCache()
    one = ChatZephyr(backend=ScriptedBackend(model="a", reply="from a"), cache=cache)
    two = ChatZephyr(backend=ScriptedBackend(model="b", reply="from b"), cache=cache)
    assert one.invoke("hi").content == "from a"
    assert two.invoke("hi").content == "from b"
    assert one.invoke("hi").content == "from a"  # a cache hit, still its own


# -- serialization ---------------------------------------------------------------------------


def test_dumpd_load_round_trip_keeps_secrets_out() -> None:
    llm = ChatZephyr(
        backend="tgi", base_url="http://127.0.0.1:9", api_key="s3cret-value", temperature=0.3
    )
    assert llm.is_lc_serializable()
    data = dumpd(llm)
    assert "s3cret-value" not in dumps(llm)
    assert data["id"] == ["zephyr_integrations", "chat_model", "ChatZephyr"]
    assert data["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["ZEPHYR_API_KEY"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # load() is beta in langchain-core
        again = load(
            data,
            allowed_objects=[ChatZephyr],
            valid_namespaces=["zephyr_integrations"],
            secrets_map={"ZEPHYR_API_KEY": "s3cret-value"},
        )
    assert isinstance(again, ChatZephyr) and again.model_dump() == llm.model_dump()
    assert again.api_key is not None and again.api_key.get_secret_value() == "s3cret-value"


def test_pickle_rebuilds_a_named_backend() -> None:
    llm = ChatZephyr(backend="tgi", base_url="http://127.0.0.1:9", api_key="k", temperature=0.1)
    again = pickle.loads(pickle.dumps(llm))
    assert again.model_dump() == llm.model_dump()
    assert again._backend is not llm._backend and again._backend.base_url == llm.base_url
    assert isinstance(again.profile, BackendProfile) and again.profile.backend is again._backend
    user = ChatZephyr(backend="tgi", base_url="http://127.0.0.1:9", profile={"tool_calling": True})
    assert pickle.loads(pickle.dumps(user)).profile == {"tool_calling": True}
