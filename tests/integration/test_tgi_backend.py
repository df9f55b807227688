"""ChatZephyr(backend="tgi") against the project's TGI-protocol server, over real sockets."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from zephyr_integrations import ChatZephyr
from zephyr_integrations.backends.tgi import PromptTooLongError
from zephyr_integrations.backends.transformers import TransformersBackend
from zephyr_integrations.errors import (
    ZephyrConnectionError,
    ZephyrGenerationError,
    ZephyrOverloadedError,
    ZephyrResponseError,
    ZephyrValidationError,
)
from zephyr_integrations.testing.scripted_backend import ScriptedBackend
from zephyr_integrations.testing.tgi_server import TGIServer

SECRET = "sk-test-not-a-real-key-12345"


@pytest.fixture(autouse=True)
def _loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", "hf_saved_token_that_must_not_leak")


@pytest.fixture
def scripted() -> Iterator[TGIServer]:
    backend = ScriptedBackend(model="scripted-zephyr")
    with TGIServer(backend, model_id="HuggingFaceH4/zephyr-7b-beta") as server:
        yield server


@pytest.fixture(scope="module")
def tiny_server(tiny_model_path: Path) -> Iterator[TGIServer]:
    backend = TransformersBackend(str(tiny_model_path), dtype="float32")
    with TGIServer(backend, model_id="tiny-zephyr") as server:
        yield server


def tgi(server: TGIServer, **kwargs: Any) -> ChatZephyr:
    options: dict[str, Any] = {"temperature": 0, "max_tokens": 20, "max_retries": 2}
    options.update(kwargs)
    return ChatZephyr(backend="tgi", base_url=server.url, **options)


def generation_requests(server: TGIServer) -> list[Any]:
    return [r for r in server.requests if r.method == "POST" and r.path != "/tokenize"]


def test_tgi_matches_local_transformers_exactly(
    tiny_server: TGIServer, tiny_model_path: Path
) -> None:
    local = ChatZephyr(
        model=str(tiny_model_path),
        backend_kwargs={"dtype": "float32"},
        temperature=0,
        max_tokens=20,
    )
    remote = tgi(tiny_server)
    expected = local.invoke("What is DPO?")
    got = remote.invoke("What is DPO?")
    assert got.content == expected.content
    assert got.usage_metadata == expected.usage_metadata
    assert got.response_metadata == {
        "model_name": "tiny-zephyr",  # from /info
        "model_provider": "huggingface",
        "finish_reason": "length",
    }
    chunks = list(remote.stream("What is DPO?"))
    assert "".join(str(c.content) for c in chunks) == expected.content
    assert chunks[-1].chunk_position == "last"
    assert chunks[-1].usage_metadata == expected.usage_metadata


async def test_async_paths_match(tiny_server: TGIServer) -> None:
    remote = tgi(tiny_server)
    invoked = await remote.ainvoke("Hello")
    chunks = [c async for c in remote.astream("Hello")]
    assert "".join(str(c.content) for c in chunks) == invoked.content
    assert chunks[-1].usage_metadata == invoked.usage_metadata
    batch = await remote.abatch(["Hello", "Hi"])
    assert batch[0].content == invoked.content


def test_parameters_are_shaped_as_tgi_validates_them(scripted: TGIServer) -> None:
    chat = tgi(scripted, temperature=0, top_p=1.0)
    chat.invoke("hello there")
    body = generation_requests(scripted)[-1].body
    params = body["parameters"]
    assert params["do_sample"] is False
    assert "temperature" not in params
    assert "top_p" not in params
    assert params["details"] is True
    assert params["max_new_tokens"] == 20
    tgi(scripted, temperature=0.7, top_p=0.9, top_k=5, seed=3).invoke("hi")
    params = generation_requests(scripted)[-1].body["parameters"]
    assert (params["do_sample"], params["temperature"], params["top_p"], params["top_k"]) == (
        True,
        0.7,
        0.9,
        5,
    )
    assert params["seed"] == 3


def test_more_than_four_stops_go_four_to_the_server_and_the_rest_client_side(
    scripted: TGIServer,
) -> None:
    stops = ["zz1", "zz2", "zz3", "zz4", "brown"]
    reply = tgi(scripted).invoke("the quick brown fox jumps", stop=stops)
    assert generation_requests(scripted)[-1].body["parameters"]["stop"] == stops[:4]
    assert reply.content == "the quick "
    assert reply.response_metadata["finish_reason"] == "stop"
    streamed = "".join(
        str(c.content) for c in tgi(scripted).stream("the quick brown fox", stop=stops)
    )
    assert streamed == "the quick "


def test_server_side_stop_text_is_cut(scripted: TGIServer) -> None:
    reply = tgi(scripted).invoke("alpha beta gamma", stop=["beta"])
    assert reply.content == "alpha "
    assert reply.response_metadata["stop_sequence"] == "beta"
    chunks = list(tgi(scripted).stream("alpha beta gamma", stop=["beta"]))
    assert "".join(str(c.content) for c in chunks) == "alpha "


def test_eos_never_leaks(scripted: TGIServer) -> None:
    reply = tgi(scripted).invoke("short answer")
    assert reply.response_metadata["finish_reason"] == "stop"
    assert "</s>" not in str(reply.content)
    streamed = "".join(str(c.content) for c in tgi(scripted).stream("short answer"))
    assert streamed == reply.content
    assert "</s>" not in streamed


def test_info_is_read_once(scripted: TGIServer) -> None:
    chat = tgi(scripted)
    for _ in range(3):
        chat.invoke("hi")
    list(chat.stream("hi"))
    assert [r.path for r in scripted.requests].count("/info") == 1
    assert chat.invoke("hi").response_metadata["model_name"] == "HuggingFaceH4/zephyr-7b-beta"


def test_prompt_over_the_server_limit_is_refused_before_sending() -> None:
    with TGIServer(ScriptedBackend(), max_input_tokens=30, max_total_tokens=60) as server:
        chat = tgi(server)
        with pytest.raises(PromptTooLongError, match=r"accepts at most 30 \(max_input_tokens\)"):
            chat.invoke("word " * 200)
        assert [r.path for r in generation_requests(server)] == []
        truncating = tgi(server, backend_kwargs={"truncate": True}, max_tokens=5)
        truncating.invoke("word " * 200)
        assert generation_requests(server)[-1].body["parameters"]["truncate"] == 30


def test_overload_is_retried_with_backoff(scripted: TGIServer) -> None:
    scripted.fail_next(2, status=429)
    reply = tgi(scripted, backend_kwargs={"backoff": 0.01}).invoke("hello")
    assert reply.content
    assert len(generation_requests(scripted)) == 3
    scripted.fail_next(2, status=503)
    assert tgi(scripted, backend_kwargs={"backoff": 0.01}).invoke("hello").content


def test_retries_are_bounded(scripted: TGIServer) -> None:
    scripted.fail_next(10, status=429)
    with pytest.raises(ZephyrOverloadedError):
        tgi(scripted, max_retries=1, backend_kwargs={"backoff": 0.01}).invoke("hello")
    assert len(generation_requests(scripted)) == 2
    scripted.reset_faults()
    scripted.fail_next(10, status=503)
    with pytest.raises(ZephyrOverloadedError, match="not ready"):
        tgi(scripted, max_retries=2, backend_kwargs={"backoff": 0.01}).invoke("hello")
    assert len(generation_requests(scripted)) == 5


def test_validation_errors_are_raised_at_once_with_the_server_message() -> None:
    with TGIServer(ScriptedBackend(), max_input_tokens=30, max_total_tokens=40) as server:
        with pytest.raises(ZephyrValidationError, match="max_new_tokens"):
            tgi(server, max_tokens=39).invoke("hello")
        assert len(generation_requests(server)) == 1


def test_refused_connection_names_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    chat = ChatZephyr(backend="tgi", base_url=url, max_retries=1, backend_kwargs={"backoff": 0.01})
    with pytest.raises(ZephyrConnectionError, match=f"127.0.0.1:{port}"):
        chat.invoke("hi")


def test_timeout_is_honoured(scripted: TGIServer) -> None:
    scripted.latency = 3.0
    started = time.perf_counter()
    with pytest.raises(TimeoutError, match="timeout=0.3"):
        tgi(scripted, timeout=0.3, max_retries=0).invoke("hi")
    assert time.perf_counter() - started < 2.0


def test_error_event_inside_a_200_stream_is_raised(scripted: TGIServer) -> None:
    scripted.stream_error_after(2, "CUDA out of memory", "generation")
    with pytest.raises(ZephyrGenerationError, match="CUDA out of memory"):
        list(tgi(scripted).stream("one two three four five"))


def test_cut_stream_raises_and_never_hangs(scripted: TGIServer) -> None:
    scripted.cut_stream_after(2)
    started = time.perf_counter()
    with pytest.raises(ZephyrResponseError, match="cut"):
        list(tgi(scripted, timeout=5).stream("one two three four five six"))
    assert time.perf_counter() - started < 5


async def test_cancelling_astream_closes_the_http_stream(scripted: TGIServer) -> None:
    scripted.token_latency = 0.05
    chat = tgi(scripted, max_tokens=200)
    stream = chat.astream("a b c d e f g h i j k l m n o p q r s t u v w x y z " * 4)
    await anext(stream)
    await stream.aclose()
    deadline = time.monotonic() + 3
    while scripted.in_flight and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert scripted.in_flight == 0


def test_no_token_is_sent_unless_given(scripted: TGIServer) -> None:
    tgi(scripted).invoke("hi")
    list(tgi(scripted).stream("hi"))
    assert all("authorization" not in r.headers for r in scripted.requests)


def test_api_key_is_sent_and_never_shown(
    scripted: TGIServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    chat = tgi(scripted, api_key=SECRET)
    chat.invoke("hi")
    assert generation_requests(scripted)[-1].headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in repr(chat)
    assert SECRET not in repr(chat._backend)
    assert SECRET not in str(chat.model_dump())
    assert SECRET not in caplog.text
    scripted.fail_next(1, status=503)
    with pytest.raises(ZephyrOverloadedError) as error:
        tgi(scripted, api_key=SECRET, max_retries=0).invoke("hi")
    assert SECRET not in str(error.value)


def test_bad_configuration_is_named() -> None:
    with pytest.raises(ValueError, match="base_url='localhost:8080' is invalid"):
        ChatZephyr(backend="tgi", base_url="localhost:8080")
    with pytest.raises(ValueError, match="needs base_url"):
        ChatZephyr(backend="tgi")
    with pytest.raises(ValueError, match="base_url does not apply to backend 'transformers'"):
        ChatZephyr(base_url="http://127.0.0.1:1")


def test_batch_is_concurrent_and_ordered(scripted: TGIServer) -> None:
    scripted.latency = 0.2
    chat = tgi(scripted)
    started = time.perf_counter()
    replies = chat.batch([f"question {i}" for i in range(6)], config={"max_concurrency": 6})
    assert time.perf_counter() - started < 0.2 * 6 / 2
    assert [r.content for r in replies] == [f"question {i}" for i in range(6)]
    assert all(isinstance(r, AIMessage) for r in replies)
