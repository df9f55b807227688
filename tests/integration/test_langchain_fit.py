"""ChatZephyr as LangChain 1.x code expects it, on both real backends with the tiny model:
agents' structured output, profile, token counts, cache per server, pickling."""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import SummarizationMiddleware
from langchain.agents.structured_output import ProviderStrategy
from langchain_core.caches import InMemoryCache
from langchain_core.globals import set_llm_cache
from langchain_core.load import dumpd, load
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import trim_messages
from langchain_core.tools import tool
from pydantic import BaseModel

from zephyr_integrations import ChatZephyr
from zephyr_integrations.backends.transformers import TransformersBackend
from zephyr_integrations.serving.protocol_errors import ProtocolError
from zephyr_integrations.testing import TGIServer, make_tiny_zephyr

STRING_LIMIT = 12


class Weather(BaseModel):
    """A weather report."""

    city: str
    degrees: int


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"sunny in {city}"


class NoTokenizerServer(TGIServer):
    """A TGI server whose model has no fast tokenizer: ``/tokenize`` answers 404, as TGI does."""

    def _tokenize_route(self, h: Any, raw: bytes) -> None:
        raise ProtocolError(404, {"error": "No fast tokenizer available"})


@pytest.fixture(scope="module")
def servers(tiny_model_path: Path) -> Iterator[dict[str, TGIServer]]:
    import huggingface_hub.constants

    offline = huggingface_hub.constants.HF_HUB_OFFLINE
    huggingface_hub.constants.HF_HUB_OFFLINE = False
    backend = TransformersBackend(str(tiny_model_path), dtype="float32")
    a = TGIServer(backend, model_id="tiny-a", max_input_tokens=1000, max_total_tokens=1500)
    b = TGIServer(backend, model_id="tiny-b")
    bare = NoTokenizerServer(backend, model_id=str(tiny_model_path))
    with a, b, bare:
        yield {"a": a, "b": b, "bare": bare}
    huggingface_hub.constants.HF_HUB_OFFLINE = offline


def llm_on(backend: str, tiny_model_path: Path, servers: dict[str, TGIServer], **kw: Any) -> Any:
    common: dict[str, Any] = {"max_tokens": 24, "max_string_length": STRING_LIMIT, **kw}
    if backend == "tgi":
        return ChatZephyr(backend="tgi", base_url=servers["a"].url, **common)
    return ChatZephyr(model=str(tiny_model_path), backend_kwargs={"dtype": "float32"}, **common)


BACKENDS = ["transformers", "tgi"]
CONVERSATION: list[BaseMessage] = [
    SystemMessage("You are a helpful assistant."),
    HumanMessage("What is the weather in Paris?"),
    AIMessage("It is sunny in Paris."),
    HumanMessage("And in London, tomorrow?"),
]


# -- 1. agents' structured output ------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["provider", "automatic"])
def test_create_agent_returns_a_parsed_structured_response(
    backend: str, strategy: str, tiny_model_path: Path, servers: dict[str, TGIServer]
) -> None:
    llm = llm_on(backend, tiny_model_path, servers, max_tokens=48)
    response_format: Any = ProviderStrategy(Weather) if strategy == "provider" else Weather
    agent = create_agent(llm, tools=[], response_format=response_format)
    state = agent.invoke({"messages": [HumanMessage("Weather in Paris?")]})
    assert isinstance(state["structured_response"], Weather)
    last = state["messages"][-1]  # the provider's JSON reply, not a tool call (ToolStrategy)
    assert isinstance(last, AIMessage) and not last.tool_calls
    assert Weather.model_validate_json(last.text) == state["structured_response"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_response_format_with_tools_constrains_to_a_call_or_the_answer(
    backend: str, tiny_model_path: Path, servers: dict[str, TGIServer]
) -> None:
    llm = llm_on(backend, tiny_model_path, servers, max_tokens=48)
    shape = {"type": "json_schema", "json_schema": {"name": "Weather"}}
    shape["json_schema"]["schema"] = Weather.model_json_schema()  # type: ignore[index]
    bound = llm.bind_tools([get_weather], response_format=shape)
    for question in ("Weather in Paris?", "Is it warm in Rome?", "London weather"):
        message = bound.invoke(question)
        if message.tool_calls:  # the grammar allowed exactly these two shapes
            assert message.tool_calls[0]["name"] == "get_weather"
            assert isinstance(message.tool_calls[0]["args"]["city"], str)
        else:
            Weather.model_validate_json(message.text)
    if backend == "tgi":
        sent = [r for r in servers["a"].requests if r.path == "/generate"][-1].body["parameters"]
        assert sent["grammar"]["type"] == "json" and len(sent["grammar"]["value"]["anyOf"]) == 2


# -- 2. profile ------------------------------------------------------------------------------


def test_profile_reads_tgi_info(tiny_model_path: Path, servers: dict[str, TGIServer]) -> None:
    llm = llm_on("tgi", tiny_model_path, servers)
    assert llm.profile["max_input_tokens"] == 1000
    assert llm.profile["max_output_tokens"] == 1499
    assert llm.profile["structured_output"] and llm.profile["tool_choice"]


def test_profile_reads_the_local_config_without_loading_weights(tmp_path: Path) -> None:
    folder = make_tiny_zephyr(tmp_path / "fresh")
    llm = ChatZephyr(model=str(folder))
    assert llm.profile is not None and llm.profile["max_input_tokens"] == 4095
    assert llm.profile["max_output_tokens"] == 4095
    assert llm._backend._loaded_engine() is None  # config.json only


def test_summarization_with_a_fractional_trigger(
    tiny_model_path: Path, servers: dict[str, TGIServer]
) -> None:
    # Server B takes 4095 prompt tokens: the summary prompt (its instructions are long for the
    # tiny model's 600-token vocabulary) fits, and the conversation is over 10% of it.
    llm = ChatZephyr(backend="tgi", base_url=servers["b"].url, max_tokens=8)
    middleware = SummarizationMiddleware(
        model=llm,
        trigger=("fraction", 0.1),
        keep=("messages", 2),
        token_counter=llm.get_num_tokens_from_messages,
    )  # refuses a model without profile["max_input_tokens"]
    history: list[BaseMessage] = []
    for turn in range(14):
        history += [HumanMessage(f"Question {turn}: tell me about the weather"), AIMessage("ok")]
    assert llm.get_num_tokens_from_messages(history) > 410  # over 0.1 x 4095
    state = create_agent(llm, tools=[], middleware=[middleware]).invoke(
        {"messages": [*history, HumanMessage("And now?")]}
    )
    messages = state["messages"]
    assert len(messages) < len(history)
    assert "summary" in messages[0].text.lower()


# -- 3. token counts -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_token_counts_are_the_reported_input_tokens(
    backend: str, tiny_model_path: Path, servers: dict[str, TGIServer]
) -> None:
    llm = llm_on(backend, tiny_model_path, servers, max_tokens=2)
    reply = llm.invoke(CONVERSATION)
    assert reply.usage_metadata is not None
    assert llm.get_num_tokens_from_messages(CONVERSATION) == reply.usage_metadata["input_tokens"]
    with_tools = llm.bind_tools([get_weather]).invoke(CONVERSATION).usage_metadata
    assert with_tools is not None
    counted = llm.get_num_tokens_from_messages(CONVERSATION, tools=[get_weather])
    assert counted == with_tools["input_tokens"]
    assert llm.get_token_ids("hello world")[0] == 1  # BOS, as the model reads a prompt
    kept = trim_messages(CONVERSATION, max_tokens=40, token_counter=llm, strategy="last")
    assert 0 < len(kept) < len(CONVERSATION)
    assert llm.get_num_tokens_from_messages(kept) <= 40


def test_a_tgi_server_without_a_tokenizer_counts_with_the_model_tokenizer(
    tiny_model_path: Path, servers: dict[str, TGIServer]
) -> None:
    llm = ChatZephyr(backend="tgi", base_url=servers["bare"].url, max_tokens=2)
    reply = llm.invoke(CONVERSATION)
    assert reply.usage_metadata is not None
    assert llm.get_num_tokens_from_messages(CONVERSATION) == reply.usage_metadata["input_tokens"]


# -- 4. cache and tracing per server ---------------------------------------------------------


def test_two_servers_never_share_cache_entries(
    tiny_model_path: Path, servers: dict[str, TGIServer]
) -> None:
    set_llm_cache(InMemoryCache())
    try:
        on_a = ChatZephyr(backend="tgi", base_url=servers["a"].url, max_tokens=3)
        on_b = ChatZephyr(backend="tgi", base_url=servers["b"].url, max_tokens=3)
        first = on_a.invoke("Hello there")
        asked_a, asked_b = len(servers["a"].requests), len(servers["b"].requests)
        assert on_a.invoke("Hello there").content == first.content
        assert len(servers["a"].requests) == asked_a  # a cache hit
        assert on_b.invoke("Hello there").response_metadata["model_name"] == "tiny-b"
        assert len(servers["b"].requests) > asked_b  # server B was asked, not A's entry reused
    finally:
        set_llm_cache(None)
    ls = on_a._get_ls_params()
    assert ls["ls_model_name"] == "tiny-a"  # the served model, not the field's default
    assert ls.get("ls_base_url") == servers["a"].url


def test_tracing_parameters_never_wait_on_the_server(servers: dict[str, TGIServer]) -> None:
    """LangChain reads them at the start of every call, inside its event loop: a new instance
    names the field's model until a call has read the served one, and asks nothing."""
    fresh = ChatZephyr(backend="tgi", base_url=servers["a"].url, max_tokens=3)
    asked = len(servers["a"].requests)
    assert fresh._get_ls_params()["ls_model_name"] == fresh.model
    assert len(servers["a"].requests) == asked
    fresh.invoke("Hello there")
    assert fresh._get_ls_params()["ls_model_name"] == "tiny-a"


# -- 6. serialization ------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_pickled_and_loaded_models_answer(
    backend: str, tiny_model_path: Path, servers: dict[str, TGIServer]
) -> None:
    llm = llm_on(backend, tiny_model_path, servers, max_tokens=3)
    expected = llm.invoke("Hello").content
    unpickled = pickle.loads(pickle.dumps(llm))
    assert unpickled._backend is not llm._backend
    assert unpickled.invoke("Hello").content == expected  # greedy: the same reply
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # load() is beta in langchain-core
        loaded = load(
            json.loads(json.dumps(dumpd(llm))),
            allowed_objects=[ChatZephyr],
            valid_namespaces=["zephyr_integrations"],
        )
    assert loaded.invoke("Hello").content == expected
