"""collect with ChatZephyr: on the TGI-protocol server (faults, a killed and restarted
`zephyr collect` process) and on local Transformers with the tiny model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from zephyr_integrations import ChatZephyr
from zephyr_integrations.preferences.collect import Generator, collect
from zephyr_integrations.preferences.prompts import read_prompts
from zephyr_integrations.testing.scripted_backend import ScriptedBackend
from zephyr_integrations.testing.tgi_server import TGIServer

ZEPHYR = [sys.executable, "-m", "zephyr_integrations.cli"]


@pytest.fixture(autouse=True)
def _loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def server() -> Iterator[TGIServer]:
    with TGIServer(ScriptedBackend(model="scripted"), model_id="scripted-zephyr") as running:
        yield running


def write_prompts(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({"prompt": f"question {i}"}) + "\n" for i in range(count)))
    return path


def generate_calls(server: TGIServer) -> int:
    return sum(1 for r in server.requests if r.method == "POST" and r.path != "/tokenize")


def test_collect_through_tgi_with_retries(server: TGIServer, tmp_path: Path) -> None:
    prompts = read_prompts(write_prompts(tmp_path / "p.jsonl", 6))
    greedy = ChatZephyr(backend="tgi", base_url=server.url, max_retries=0)
    capped = ChatZephyr(backend="tgi", base_url=server.url, max_retries=0)
    server.fail_next(2, status=503)  # transient: retried by collect (2 retries)
    report = collect(
        prompts,
        [
            Generator(greedy, {"temperature": 0}),
            Generator(capped, {"max_tokens": 1}, label="capped"),
        ],
        tmp_path / "c.jsonl",
        n=2,
        concurrency=4,
        retry_wait=0.01,
    )
    assert report.failures == [] and report.written == 24
    rows = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    first = rows[0]
    assert (first["model"], first["response"], first["finish_reason"]) == (
        "scripted-zephyr",
        "question 0",
        "stop",
    )  # fmt: skip  (the name TGI reports in /info, via response_metadata)
    assert first["usage"]["output_tokens"] == 3 and first["usage"]["input_tokens"] > 2
    capped_row = next(r for r in rows if r["model"] == "capped")
    assert (capped_row["response"], capped_row["finish_reason"]) == ("question", "length")
    assert capped_row["flags"] == ["truncated"] and capped_row["params"] == {"max_tokens": 1}
    assert generate_calls(server) == 24 + 2


def test_killed_collect_resumes_without_losing_or_repeating(
    server: TGIServer, tmp_path: Path
) -> None:
    server.latency = 0.05
    prompts = write_prompts(tmp_path / "p.jsonl", 60)
    out = tmp_path / "c.jsonl"
    partial = tmp_path / "c.jsonl.partial"
    command = [
        *ZEPHYR, "collect", str(prompts), "-m", f"tgi:{server.url},temperature=0.5,seed=1",
        "-n", "2", "--concurrency", "4", "-o", str(out), "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1", "HF_HUB_OFFLINE": "0"}
    first = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and first.poll() is None:
            if partial.exists() and partial.read_text().count("\n") >= 30:
                break
            time.sleep(0.02)
        assert first.poll() is None, f"finished before it could be killed: {first.stderr}"
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    assert not out.exists()  # the output only ever appears whole
    done_before = partial.read_text().count("\n")
    assert 30 <= done_before < 120
    calls_before = generate_calls(server)

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "from an earlier run" in second.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    counts = Counter((r["prompt_id"], r["model"], r["sample"]) for r in rows)
    assert len(counts) == 120 and set(counts.values()) == {1}  # every key exactly once
    assert {r["response"] for r in rows} == {f"question {i}" for i in range(60)}
    assert not partial.exists()
    # Only what was missing was asked again (plus at most the first call, which names the model).
    assert generate_calls(server) - calls_before <= 120 - done_before + 1


def test_collect_on_local_transformers(tiny_model_path: Path, tmp_path: Path) -> None:
    prompts = read_prompts(write_prompts(tmp_path / "p.jsonl", 3))
    local = ChatZephyr(
        model=str(tiny_model_path), backend="transformers", backend_kwargs={"dtype": "float32"}
    )
    report = collect(
        prompts,
        [Generator(local, {"temperature": 0.8, "max_tokens": 6, "seed": 7}, label="tiny")],
        tmp_path / "c.jsonl",
        n=2,
    )
    assert report.written == 6 and not report.failures
    rows = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    for row in rows:
        assert row["model"] == "tiny" and row["params"]["seed"] == 7 + row["sample"]
        assert 1 <= row["usage"]["output_tokens"] <= 6
        assert row["finish_reason"] in ("stop", "length")
        assert ("truncated" in row["flags"]) == (row["finish_reason"] == "length")
    again = local.invoke(rows[1]["messages"][0]["content"], temperature=0.8, max_tokens=6, seed=8)
    assert again.text == rows[1]["response"]  # the recorded parameters reproduce the answer
