"""Several TGI replicas of one model behind one ChatZephyr (``base_url`` comma-separated)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from zephyr_integrations import ChatZephyr, ZephyrConnectionError, ZephyrValidationError
from zephyr_integrations.testing.scripted_backend import ScriptedBackend
from zephyr_integrations.testing.tgi_server import TGIServer


@pytest.fixture
def replicas() -> Iterator[list[TGIServer]]:
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(TGIServer(ScriptedBackend(), model_id="zephyr")) for _ in range(3)
        ]


def chat(urls: list[str], **kwargs: object) -> ChatZephyr:
    options: dict[str, object] = {"max_tokens": 8, "temperature": 0, "timeout": 20}
    options["backend_kwargs"] = {"backoff": 0.02}
    return ChatZephyr(backend="tgi", base_url=",".join(urls), **(options | kwargs))


def generations(server: TGIServer) -> int:
    return sum(r.path == "/generate" for r in server.requests)


async def test_requests_spread_over_the_least_busy_replicas(replicas: list[TGIServer]) -> None:
    for server in replicas:
        server.latency = 0.05
    llm = chat([s.url for s in replicas])
    prompts = [f"question {i}" for i in range(30)]
    replies = await llm.abatch(prompts, config={"max_concurrency": 30})
    assert [r.content for r in replies] == prompts
    assert all(generations(s) >= 5 for s in replicas), [generations(s) for s in replicas]


async def test_a_replica_killed_mid_run_loses_nothing(replicas: list[TGIServer]) -> None:
    for server in replicas:
        server.latency = 0.02
    llm = chat([s.url for s in replicas], max_retries=3)
    prompts = [f"item {i}" for i in range(120)]

    async def kill_one() -> None:
        await asyncio.sleep(0.1)
        replicas[1].stop()

    replies, _ = await asyncio.gather(
        llm.abatch(prompts, config={"max_concurrency": 12}), kill_one()
    )
    assert [r.content for r in replies] == prompts
    assert generations(replicas[0]) + generations(replicas[2]) > 60


def test_replicas_must_serve_one_model() -> None:
    with (
        TGIServer(ScriptedBackend(), model_id="zephyr") as a,
        TGIServer(ScriptedBackend(), model_id="mistral") as b,
    ):
        with pytest.raises(ZephyrValidationError, match="different models") as error:
            chat([a.url, b.url]).invoke("hi")
        assert "serves mistral" in str(error.value) and "serves zephyr" in str(error.value)


def test_a_replica_refusing_connections_is_skipped(replicas: list[TGIServer]) -> None:
    dead = replicas[0].url
    replicas[0].stop()
    llm = chat([dead, replicas[1].url])
    assert [llm.invoke(f"q{i}").content for i in range(4)] == [f"q{i}" for i in range(4)]
    with pytest.raises(ZephyrConnectionError):
        chat([dead], max_retries=0).invoke("hi")
