"""ChatZephyr(backend="tgi") against TGI as it really behaves: in-band overload on streams,
older versions' answers, endpoints scaling from zero, failing /info and /tokenize."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zephyr_integrations import (
    ChatZephyr,
    ZephyrError,
    ZephyrOverloadedError,
)
from zephyr_integrations.backends.transformers import TransformersBackend
from zephyr_integrations.testing.scripted_backend import ScriptedBackend
from zephyr_integrations.testing.tgi_server import TGIServer

VERSIONS = ["1.3.4", "2.0.4", "2.2.0", "3.3.6"]


@pytest.fixture
def server() -> Iterator[TGIServer]:
    with TGIServer(ScriptedBackend(), model_id="zephyr") as running:
        yield running


def chat(server: TGIServer, **kwargs: Any) -> ChatZephyr:
    options: dict[str, Any] = {"max_tokens": 20, "temperature": 0, "timeout": 10}
    options["backend_kwargs"] = {"backoff": 0.02}
    return ChatZephyr(backend="tgi", base_url=server.url, **(options | kwargs))


def hits(server: TGIServer, path: str) -> int:
    return sum(r.path == path for r in server.requests)


def raw_stream(url: str) -> bytes:
    request = urllib.request.Request(
        f"{url}/generate_stream",
        data=json.dumps({"inputs": "a b", "parameters": {"details": True}}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return bytes(response.read())


# -- the test server reproduces it ----------------------------------------------------------


def test_the_server_reports_stream_overload_in_band_as_tgi_does(server: TGIServer) -> None:
    server.fail_next(1, status=429)
    assert raw_stream(server.url) == (
        b'data: {"error":"Model is overloaded","error_type":"overloaded"}\n\n'
    )


def test_the_server_answers_as_old_versions_did() -> None:
    with TGIServer(ScriptedBackend(), version="1.3.4") as old:
        body = raw_stream(old.url)
        assert body.startswith(b'data:{"token"') and b'"index"' not in body
        assert b"input_length" not in body
        with urllib.request.urlopen(f"{old.url}/info", timeout=10) as response:
            info = json.load(response)
        assert "max_input_length" in info and "max_input_tokens" not in info
        assert info["version"] == "1.3.4"


# -- overload and retries -------------------------------------------------------------------


def test_in_stream_overload_before_the_first_token_is_retried(server: TGIServer) -> None:
    server.fail_next(2, status=429)
    assert "".join(str(c.content) for c in chat(server).stream("one two three")) == (
        "one two three"
    )
    assert hits(server, "/generate_stream") == 3


async def test_async_in_stream_overload_is_retried_then_raised(server: TGIServer) -> None:
    server.fail_next(2, status=429)
    text = "".join([str(c.content) async for c in chat(server).astream("one two")])
    assert text == "one two"
    server.fail_next(5, status=429)
    with pytest.raises(ZephyrOverloadedError, match="overloaded"):
        [c async for c in chat(server, max_retries=1).astream("one two")]


def test_overload_after_a_token_raises_without_retrying(server: TGIServer) -> None:
    server.stream_error_after(2, "Model is overloaded", "overloaded")
    received: list[str] = []
    with pytest.raises(ZephyrOverloadedError, match="Model is overloaded"):
        received.extend(str(c.content) for c in chat(server).stream("one two three four"))
    assert "".join(received) == "one two"
    assert hits(server, "/generate_stream") == 1


def test_an_endpoint_scaling_from_zero_is_waited_for(server: TGIServer) -> None:
    server.scale_from_zero(0.4)
    llm = chat(server, max_retries=6, backend_kwargs={"backoff": 0.1, "max_backoff": 0.2})
    assert llm.invoke("awake now").content == "awake now"
    assert hits(server, "/info") > 1


def test_info_failures_are_translated_and_retried(server: TGIServer) -> None:
    server.fail_next(2, status=503, route="/info")
    assert chat(server).invoke("hello").content == "hello"
    assert hits(server, "/info") == 3
    server.fail_next(9, status=503, route="/info")
    with pytest.raises(ZephyrOverloadedError, match="/info"):
        chat(server, max_retries=1).invoke("hello")


def test_tokenize_failures_are_translated_and_retried() -> None:
    with TGIServer(ScriptedBackend(), max_input_tokens=30, max_total_tokens=60) as server:
        server.fail_next(2, status=503, route="/tokenize")
        prompt = "word " * 5  # near the limit in bytes: the client counts its tokens first
        assert chat(server, max_tokens=5).invoke(prompt).content
        assert hits(server, "/tokenize") == 3
        server.fail_next(9, status=503, route="/tokenize")
        with pytest.raises(ZephyrOverloadedError, match="/tokenize"):
            chat(server, max_tokens=5, max_retries=1).invoke(prompt)


def test_retry_after_is_honoured(server: TGIServer) -> None:
    server.fail_next(1, status=429, retry_after=0.6)
    started = time.monotonic()
    assert chat(server).invoke("patience").content == "patience"
    assert time.monotonic() - started >= 0.6
    server.fail_next(1, status=429, retry_after=30)  # longer than the call may take
    started = time.monotonic()
    with pytest.raises(ZephyrOverloadedError) as error:
        chat(server, timeout=2).invoke("patience")
    assert time.monotonic() - started < 1.5
    assert error.value.retry_after == 30


def test_no_error_is_its_own_cause(server: TGIServer) -> None:
    server.fail_next(9, status=503, route="/info")
    with pytest.raises(ZephyrError) as error:
        chat(server, max_retries=1).invoke("hi")
    seen: set[int] = set()
    link: BaseException | None = error.value
    while link is not None:
        assert id(link) not in seen, "the cause chain loops"
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    assert len(seen) < 10


# -- older TGI versions ---------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_version_gives_text_finish_reason_and_counts(version: str) -> None:
    modern = TGIServer(ScriptedBackend(), model_id="zephyr")
    old = TGIServer(ScriptedBackend(), model_id="zephyr", version=version)
    with modern, old:
        for prompt, stop in (("alpha beta gamma", ["beta"]), ("short answer", None)):
            expected = chat(modern).invoke(prompt, stop=stop)
            for reply in (
                chat(old).invoke(prompt, stop=stop),
                await chat(old).ainvoke(prompt, stop=stop),
            ):
                assert reply.content == expected.content
                assert reply.response_metadata == expected.response_metadata
                if version == "1.3.4":  # no header, no /tokenize, no local tokenizer: left out
                    assert reply.usage_metadata is None
                else:
                    assert reply.usage_metadata == expected.usage_metadata
            chunks = list(chat(old).stream(prompt, stop=stop))
            assert "".join(str(c.content) for c in chunks) == expected.content
            assert (
                chunks[-1].response_metadata["finish_reason"]
                == (expected.response_metadata["finish_reason"])
            )
            if version != "1.3.4":
                assert chunks[-1].usage_metadata == expected.usage_metadata


def test_without_server_counts_the_local_tokenizer_counts(tiny_model_path: Path) -> None:
    backend = TransformersBackend(str(tiny_model_path), dtype="float32")
    # /info names the model by its folder, which this machine has: its tokenizer counts.
    modern = TGIServer(backend, model_id=str(tiny_model_path))
    old = TGIServer(backend, model_id=str(tiny_model_path), version="1.3.4")
    with modern, old:
        expected = chat(modern, max_tokens=5).invoke("What is DPO?")
        reply = chat(old, max_tokens=5).invoke("What is DPO?")
    assert reply.content == expected.content
    assert reply.usage_metadata == expected.usage_metadata


def test_hf_hub_offline_does_not_block_a_named_server(
    server: TGIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    llm = chat(server)
    assert llm.invoke("offline is fine").content == "offline is fine"
    assert "".join(str(c.content) for c in llm.stream("so is streaming")) == "so is streaming"
