"""Load over 3 replicas (servers in processes of their own), and a collect run that loses one of
them mid-run. The full-size load (2,000 requests at 128) is benchmarks/replica_load.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from zephyr_integrations import ChatZephyr
from zephyr_integrations.preferences.collect import Generator, acollect
from zephyr_integrations.preferences.prompts import parse_row
from zephyr_integrations.testing.server_process import ServerProcess, scripted_server_process


@pytest.fixture(autouse=True)
def _loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def replicas() -> Iterator[list[ServerProcess]]:
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(scripted_server_process(0.05, model_id="zephyr")) for _ in range(3)
        ]


def rows_in(path: Path) -> int:
    return path.read_text().count("\n") if path.exists() else 0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_load_over_three_replicas_loses_nothing_and_leaks_no_descriptor(
    replicas: list[ServerProcess],
) -> None:
    urls = ",".join(r.url for r in replicas)
    llm = ChatZephyr(backend="tgi", base_url=urls, max_tokens=8, temperature=0, max_retries=3)
    await llm.ainvoke("warm up")  # /info, read once per process (on the sync callers' loop)
    await llm._backend.aclose()  # type: ignore[attr-defined]
    fds_before = open_fds()
    prompts = [f"load {i}" for i in range(600)]
    replies = await llm.abatch(prompts, config={"max_concurrency": 128})
    assert [r.content for r in replies] == prompts
    await llm._backend.aclose()  # type: ignore[attr-defined]
    await asyncio.sleep(0.2)  # closed transports finish closing on the next loop turns
    assert open_fds() <= fds_before


async def test_collect_over_three_replicas_with_one_killed_mid_run_loses_nothing(
    replicas: list[ServerProcess], tmp_path: Path
) -> None:
    urls = ",".join(r.url for r in replicas)
    llm = ChatZephyr(backend="tgi", base_url=urls, max_tokens=8, temperature=0, timeout=20)
    prompts = [parse_row({"prompt": f"question {i}"}, f"line {i}") for i in range(80)]
    output = tmp_path / "candidates.jsonl"
    partial = Path(f"{output}.partial")

    async def kill_one_mid_run() -> int:
        while rows_in(partial) < 20:
            if rows_in(output):  # the run ended first: nothing was killed
                return -1
            await asyncio.sleep(0.01)
        os.kill(replicas[1].pid, signal.SIGKILL)
        return rows_in(partial)

    report, written_at_kill = await asyncio.gather(
        acollect(prompts, [Generator(llm)], output, n=2, concurrency=16, retry_wait=0.05),
        kill_one_mid_run(),
    )
    assert 0 <= written_at_kill < 120  # the replica died with most of the run still to come
    assert report.failures == [] and report.written == 160
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    keys = Counter((r["prompt_id"], r["sample"]) for r in rows)
    assert len(keys) == 160 and set(keys.values()) == {1}
    assert all(r["response"] == r["prompt"] for r in rows)
