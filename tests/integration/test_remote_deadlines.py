"""``timeout`` is a deadline for the whole call, whatever the server does, and every malformed
answer is a project error naming the server (deliberately misbehaving servers)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest

from zephyr_integrations import (
    ChatZephyr,
    ZephyrError,
    ZephyrResponseError,
    ZephyrTimeoutError,
)
from zephyr_integrations.testing.faulty_http import FaultyServer
from zephyr_integrations.testing.scripted_backend import ScriptedBackend
from zephyr_integrations.testing.tgi_server import TGIServer

TIMEOUT = 0.8
SLACK = 0.7  # scheduling on a loaded 2-core machine
ROUTES = ["/info", "/tokenize", "/generate", "/generate_stream"]
FAULTS = ["drip", "silent", "garbage", "html", "error_200", "missing_fields", "cut", "close"]


def llm(url: str, **kwargs: Any) -> ChatZephyr:
    options: dict[str, Any] = {"timeout": TIMEOUT, "max_retries": 1}
    options["backend_kwargs"] = {"backoff": 0.05}
    return ChatZephyr(backend="tgi", base_url=url, **(options | kwargs))


def call(chat: ChatZephyr, route: str) -> ZephyrError | None:
    """The error the call raised (None if it returned)."""
    try:
        if route == "/generate_stream":
            list(chat.stream("hi"))
        else:
            chat.invoke("hi")
    except ZephyrError as error:
        return error
    return None


@pytest.mark.parametrize("fault", [*FAULTS, "slow_sse"])
@pytest.mark.parametrize("route", ROUTES)
def test_every_failure_of_every_route_returns_or_raises_within_timeout(
    route: str, fault: str
) -> None:
    if fault == "slow_sse" and route != "/generate_stream":
        pytest.skip("a slow event stream only answers the stream route")
    with FaultyServer(fault, route=route, interval=0.3) as server:
        chat = llm(server.url)
        started = time.monotonic()
        error = call(chat, route)
        elapsed = time.monotonic() - started
        assert route in server.hits
    assert elapsed < TIMEOUT + SLACK
    if error is not None:
        assert str(error).count(server.url.removeprefix("http://")) == 1, str(error)


@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [
        ("html", ZephyrResponseError, "not JSON"),
        ("error_200", ZephyrResponseError, "HTTP 200: .*CUDA out of memory"),
        ("missing_fields", ZephyrResponseError, "generated_text"),
        ("garbage", ZephyrResponseError, "HTTP"),
        ("drip", ZephyrTimeoutError, f"timeout={TIMEOUT:g}"),
        ("silent", ZephyrTimeoutError, f"timeout={TIMEOUT:g}"),
    ],
)
def test_malformed_answers_keep_the_server_message(
    fault: str, kind: type[ZephyrError], words: str
) -> None:
    with FaultyServer(fault, route="/generate") as server, pytest.raises(kind, match=words):
        llm(server.url).invoke("hi")


def test_a_cut_body_is_retried_and_then_named() -> None:
    with FaultyServer("cut", route="/generate") as server:
        with pytest.raises(ZephyrResponseError, match="cut"):
            llm(server.url, max_retries=2).invoke("hi")
        assert server.hits.count("/generate") == 3


async def test_async_calls_and_streams_keep_the_deadline() -> None:
    for fault, route in (("drip", "/generate"), ("slow_sse", "/generate_stream")):
        with FaultyServer(fault, route=route, interval=0.2) as server:
            chat = llm(server.url)
            started = time.monotonic()
            with pytest.raises(ZephyrTimeoutError):
                await consume(chat, route)
            assert time.monotonic() - started < TIMEOUT + SLACK


async def consume(chat: ChatZephyr, route: str) -> None:
    if route == "/generate":
        await chat.ainvoke("hi")
    else:
        [c async for c in chat.astream("hi")]


def test_a_per_call_timeout_overrides_the_instance_one() -> None:
    with TGIServer(ScriptedBackend()) as server:
        server.latency = 3.0
        chat = llm(server.url, timeout=30)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="timeout=0.5"):
            chat.invoke("hi", timeout=0.5)
        assert time.monotonic() - started < 0.5 + SLACK


def test_a_slow_stream_stops_at_the_deadline_even_while_tokens_flow() -> None:
    with TGIServer(ScriptedBackend()) as server:
        server.token_latency = 0.3
        received: list[str] = []
        chat = llm(server.url)
        started = time.monotonic()
        with pytest.raises(ZephyrTimeoutError):
            received.extend(str(c.content) for c in chat.stream("a b c d e f g h i j"))
        assert time.monotonic() - started < TIMEOUT + SLACK
        assert received, "tokens were delivered until the deadline"


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_no_descriptor_outlives_its_event_loop() -> None:
    with TGIServer(ScriptedBackend()) as server:
        chat = llm(server.url, timeout=30)
        prompts = [f"q{i}" for i in range(200)]

        def one_loop() -> None:
            replies = asyncio.run(chat.abatch(prompts, config={"max_concurrency": 64}))
            assert [r.content for r in replies] == prompts

        one_loop()
        before = open_fds()
        for _ in range(19):
            one_loop()
        assert open_fds() <= before


def test_an_http_session_builds_no_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    def refuse(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        raise AssertionError("a TLS context was built for http://")

    monkeypatch.setattr(ssl, "create_default_context", refuse)
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", refuse)
    with TGIServer(ScriptedBackend()) as server:
        chat = llm(server.url, timeout=30)

        async def first_calls() -> None:
            assert (await chat.ainvoke("first")).content == "first"

        asyncio.run(first_calls())
        assert chat.invoke("sync too").content == "sync too"
