"""The TGI backend's async HTTP pool and prompt-token accounting, over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from zephyr_integrations import ChatZephyr
from zephyr_integrations.backends.tgi import TGIBackend
from zephyr_integrations.backends.tgi_http import ShardedTransport
from zephyr_integrations.testing import tgi_server
from zephyr_integrations.testing.scripted_backend import ScriptedBackend
from zephyr_integrations.testing.tgi_server import TGIServer


@pytest.fixture(autouse=True)
def _loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def scripted() -> Iterator[TGIServer]:
    with TGIServer(ScriptedBackend(model="scripted"), model_id="zephyr") as server:
        yield server


def _transport(backend: TGIBackend) -> ShardedTransport:
    session = backend._sessions[asyncio.get_running_loop()]
    transport = session._transport
    assert isinstance(transport, ShardedTransport)
    return transport


async def test_concurrent_calls_spread_over_shards_and_give_slots_back(
    scripted: TGIServer,
) -> None:
    scripted.latency = 0.05
    chat = ChatZephyr(backend="tgi", base_url=scripted.url, max_tokens=4, temperature=0)
    backend = chat._backend
    assert isinstance(backend, TGIBackend)
    prompts = [f"question {i}" for i in range(48)]
    replies = await chat.abatch(prompts, config={"max_concurrency": 48})
    assert [r.content for r in replies] == prompts
    transport = _transport(backend)
    assert transport._in_flight == [0] * transport.shards
    used = [s for s in transport._shards if s._pool.connections]  # type: ignore[attr-defined]
    assert len(used) >= 3, "48 concurrent calls should not queue on one small pool"
    await backend.aclose()
    assert all(not s._pool.connections for s in transport._shards)  # type: ignore[attr-defined]


async def test_the_hub_client_uses_our_session(scripted: TGIServer) -> None:
    backend = TGIBackend(base_url=scripted.url)
    async with backend._async_client() as client:
        assert await client._get_async_client() is backend._sessions[asyncio.get_running_loop()]
        await client.text_generation("hi", max_new_tokens=2)
    # Were the hub to stop calling _get_async_client, this request would not be on our pool.
    assert sum(len(s._pool.connections) for s in _transport(backend)._shards) == 1  # type: ignore[attr-defined]
    await backend.aclose()


async def test_async_streams_reuse_pooled_connections(scripted: TGIServer) -> None:
    chat = ChatZephyr(backend="tgi", base_url=scripted.url, max_tokens=4, temperature=0)
    for _ in range(5):
        assert "".join([str(c.content) async for c in chat.astream("stream me")]) == "stream me"
    transport = _transport(chat._backend)  # type: ignore[arg-type]
    assert sum(len(s._pool.connections) for s in transport._shards) == 1  # type: ignore[attr-defined]
    assert transport._in_flight == [0] * transport.shards
    await chat._backend.aclose()  # type: ignore[attr-defined]


def test_sync_calls_hold_nothing_and_streams_reuse_connections(scripted: TGIServer) -> None:
    from huggingface_hub import get_session

    chat = ChatZephyr(backend="tgi", base_url=scripted.url, max_tokens=4, temperature=0)
    pool = get_session()._transport._pool  # type: ignore[attr-defined]
    for _ in range(5):
        assert chat.invoke("call me").content == "call me"
        assert "".join(str(c.content) for c in chat.stream("stream me")) == "stream me"
    ours = [c for c in pool.connections if c._origin.port == int(scripted.url.rsplit(":", 1)[1])]
    assert len(ours) == 1, "each stream should give its connection back to the pool"
    assert not hasattr(chat._backend, "_client"), "no long-lived hub client to grow"


async def test_failed_requests_give_their_slot_back(scripted: TGIServer) -> None:
    chat = ChatZephyr(backend="tgi", base_url=scripted.url, max_tokens=4, max_retries=0)
    backend = chat._backend
    assert isinstance(backend, TGIBackend)
    await chat.ainvoke("warm up")
    scripted.fail_next(3, status=503)
    results = await chat.abatch(["a", "b", "c"], return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)
    assert _transport(backend)._in_flight == [0] * _transport(backend).shards
    await backend.aclose()


async def test_prompt_tokens_come_from_the_response_header(scripted: TGIServer) -> None:
    chat = ChatZephyr(backend="tgi", base_url=scripted.url, max_tokens=4, temperature=0)
    sync = chat.invoke("How many tokens is this prompt?")
    reply = await chat.ainvoke("How many tokens is this prompt?")
    assert reply.usage_metadata == sync.usage_metadata
    generate = [r for r in scripted.requests if r.path in ("/", "/generate")]
    # The async call asked for no per-token prefill, and needed no /tokenize round trip.
    assert "decoder_input_details" not in generate[-1].body["parameters"]
    assert not [r for r in scripted.requests if r.path == "/tokenize"]
    await chat._backend.aclose()  # type: ignore[attr-defined]


async def test_without_the_header_prompt_tokens_come_from_tokenize(
    scripted: TGIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = ChatZephyr(backend="tgi", base_url=scripted.url, max_tokens=4, temperature=0)
    expected = chat.invoke("Count me without headers")
    original = tgi_server._headers

    def without_usage(*args: Any) -> dict[str, str]:
        headers = original(*args)
        return {k: v for k, v in headers.items() if k != "x-prompt-tokens"}

    monkeypatch.setattr(tgi_server, "_headers", without_usage)
    reply = await chat.ainvoke("Count me without headers")
    assert reply.usage_metadata == expected.usage_metadata
    assert [r for r in scripted.requests if r.path == "/tokenize"]
    await chat._backend.aclose()  # type: ignore[attr-defined]


def test_scripted_server_process_serves_and_stops() -> None:
    import os

    from huggingface_hub import InferenceClient

    from zephyr_integrations.testing.server_process import scripted_server_process

    with scripted_server_process(model_id="zephyr-in-a-process") as server:
        assert server.pid != os.getpid()
        client = InferenceClient(base_url=server.url, timeout=30)
        reply = client.text_generation("echo me", max_new_tokens=4, return_full_text=False)
        assert reply == "echo me"
        pid = server.pid
    assert not os.path.exists(f"/proc/{pid}")  # stopped and reaped
