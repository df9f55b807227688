"""The remote layer's connection pool and prompt-token accounting, over real sockets."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from zephyr_integrations import ChatZephyr
from zephyr_integrations.backends.tgi import TGIBackend
from zephyr_integrations.testing.scripted_backend import ScriptedBackend
from zephyr_integrations.testing.tgi_server import TGIServer


@pytest.fixture
def scripted() -> Iterator[TGIServer]:
    with TGIServer(ScriptedBackend(model="scripted"), model_id="zephyr") as server:
        yield server


def chat(server: TGIServer, **kwargs: Any) -> ChatZephyr:
    options: dict[str, Any] = {"max_tokens": 4, "temperature": 0} | kwargs
    return ChatZephyr(backend="tgi", base_url=server.url, **options)


async def test_concurrent_calls_share_a_bounded_pool(scripted: TGIServer) -> None:
    scripted.latency = 0.05
    llm = chat(scripted, backend_kwargs={"max_connections": 8})
    prompts = [f"question {i}" for i in range(48)]
    replies = await llm.abatch(prompts, config={"max_concurrency": 48})
    assert [r.content for r in replies] == prompts
    # at most 8 on this loop, plus the one ChatZephyr's profile reads /info on (a sync call)
    assert 1 < scripted.connections_accepted <= 8 + 1
    await llm._backend.aclose()  # type: ignore[attr-defined]


async def test_async_streams_reuse_pooled_connections(scripted: TGIServer) -> None:
    llm = chat(scripted)
    for _ in range(5):
        assert "".join([str(c.content) async for c in llm.astream("stream me")]) == "stream me"
    # one for the streams, one for the sync /info read of ChatZephyr's profile
    assert scripted.connections_accepted <= 2


def test_sync_calls_and_streams_reuse_one_connection(scripted: TGIServer) -> None:
    llm = chat(scripted)
    for _ in range(5):
        assert llm.invoke("call me").content == "call me"
        assert "".join(str(c.content) for c in llm.stream("stream me")) == "stream me"
    other = chat(scripted)  # another instance on the same server shares the pool
    assert other.invoke("call me").content == "call me"
    assert scripted.connections_accepted == 1


async def test_failed_requests_give_their_connection_back(scripted: TGIServer) -> None:
    llm = chat(scripted, max_retries=0, backend_kwargs={"max_connections": 2})
    await llm.ainvoke("warm up")
    scripted.fail_next(6, status=503)
    results = await llm.abatch(["a", "b", "c", "d", "e", "f"], return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)
    assert (await llm.ainvoke("after")).content == "after"  # the two slots are free again


async def test_prompt_tokens_come_from_the_response_header(scripted: TGIServer) -> None:
    llm = chat(scripted)
    sync = llm.invoke("How many tokens is this prompt?")
    reply = await llm.ainvoke("How many tokens is this prompt?")
    assert reply.usage_metadata == sync.usage_metadata
    generate = [r for r in scripted.requests if r.path == "/generate"]
    assert "decoder_input_details" not in generate[-1].body["parameters"]
    assert not [r for r in scripted.requests if r.path == "/tokenize"]


async def test_without_the_header_prompt_tokens_come_from_tokenize(
    scripted: TGIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = chat(scripted)
    expected = llm.invoke("Count me without headers")
    no_header = dataclasses.replace(scripted.quirks, prompt_tokens_header=False)
    monkeypatch.setattr(scripted, "quirks", no_header)  # TGI < 1.4, but with /tokenize
    reply = await llm.ainvoke("Count me without headers")
    assert reply.usage_metadata == expected.usage_metadata
    assert [r for r in scripted.requests if r.path == "/tokenize"]


def test_a_backend_pickles_without_its_connections(scripted: TGIServer) -> None:
    import pickle

    backend = TGIBackend(base_url=scripted.url, api_key="sk-secret", timeout=7)
    backend.info  # noqa: B018 - fetched, then dropped by pickling
    copy = pickle.loads(pickle.dumps(backend))
    assert (copy.base_url, copy.timeout, copy.api_key) == (scripted.url, 7.0, backend.api_key)
    assert copy.model_name == "zephyr"


def test_scripted_server_process_serves_and_stops() -> None:
    from huggingface_hub import InferenceClient

    from zephyr_integrations.testing.server_process import scripted_server_process

    with scripted_server_process(model_id="zephyr-in-a-process") as server:
        assert server.pid != os.getpid()
        client = InferenceClient(base_url=server.url, timeout=30)
        reply = client.text_generation("echo me", max_new_tokens=4, return_full_text=False)
        assert reply == "echo me"
        pid = server.pid
    assert not os.path.exists(f"/proc/{pid}")  # stopped and reaped


async def test_sync_calls_work_inside_a_running_event_loop(scripted: TGIServer) -> None:
    llm = chat(scripted)  # as in a notebook: sync code where an event loop already runs
    assert llm.invoke("from a loop").content == "from a loop"
    assert "".join(str(c.content) for c in llm.stream("stream too")) == "stream too"


def test_threads_each_close_their_connections_when_they_end(scripted: TGIServer) -> None:
    import threading

    llm = chat(scripted)
    replies: list[str] = []
    workers = [
        threading.Thread(target=lambda: replies.append(str(llm.invoke("in a thread").content)))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert replies == ["in a thread"] * 4
    deadline = time.monotonic() + 5
    while scripted.connections_open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert scripted.connections_open == 0
