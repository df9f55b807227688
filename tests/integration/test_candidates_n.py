"""`n` candidates per prompt: one request with OpenAI's `n` where the server batches them
(vLLM, SGLang, the project's server on /v1/completions), n requests with seeds seed..seed+n-1 on
TGI; replicas named on the command line. The shape of `collect_candidates` runs unchanged
against a real vLLM (only the request counting below needs the project's server)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from zephyr_integrations import ChatZephyr
from zephyr_integrations.backends.base import Generation, GenerationRequest
from zephyr_integrations.cli import app
from zephyr_integrations.testing.scripted_backend import (
    ScriptedBackend,
    last_user_turn,
    split_words,
)
from zephyr_integrations.testing.tgi_server import TGIServer


class SeededBackend(ScriptedBackend):
    """Echoes the question, then ``more`` (seed mod 3) times and the seed: candidates differ
    by seed, in text and in length."""

    def _run(self, request: GenerationRequest) -> tuple[list[str], Generation]:
        params = request.params
        extra = " more" * ((params.seed or 0) % 3)
        words = split_words(f"{last_user_turn(request.prompt)}{extra} seed={params.seed}")
        budget = params.max_new_tokens or len(words) + 2
        pieces, text, reason, completion, stop = self._play(words, budget, params.stop)
        prompt = len(request.prompt.split()) + 1
        return pieces, Generation(text, reason, prompt, completion, self.model, stop)


@pytest.fixture(autouse=True)
def _loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def server() -> Iterator[TGIServer]:
    with TGIServer(SeededBackend(model="seeded"), model_id="smollm2") as running:
        yield running


def zephyr(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "300", "NO_COLOR": "1"})
    return result.exit_code, result.output


def collect_candidates(spec: str, tmp_path: Path, n: int, prompts: int = 2) -> list[Any]:
    """`zephyr collect -m SPEC -n N` on ``prompts`` questions; the rows it wrote."""
    questions = tmp_path / "prompts.jsonl"
    questions.write_text("".join(json.dumps({"prompt": f"question {i}"}) + "\n"
                                 for i in range(prompts)))  # fmt: skip
    out = tmp_path / "candidates.jsonl"
    code, output = zephyr("collect", str(questions), "-m", spec, "-n", str(n), "-o", str(out),
                          "--no-progress")  # fmt: skip
    assert code == 0, output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == prompts * n
    assert {(r["prompt_id"], r["sample"]) for r in rows} == {
        (p, s) for p in {r["prompt_id"] for r in rows} for s in range(n)
    }
    assert all(r["usage"]["output_tokens"] >= 1 and r["response"] for r in rows)
    return rows


def assert_exact_usage(rows: list[Any]) -> None:
    """Per-candidate usage as this server counts it (a word a token, plus EOS)."""
    for row in rows:
        assert row["usage"]["output_tokens"] == len(row["response"].split()) + 1


def posts(server: TGIServer, path: str) -> list[Any]:
    return [r.body for r in server.requests if r.method == "POST" and r.path == path]


def test_openai_n_is_one_request_per_prompt(server: TGIServer, tmp_path: Path) -> None:
    spec = f"openai:{server.url},temperature=0.8,seed=5,label=z,max_tokens=20"
    rows = collect_candidates(spec, tmp_path, n=3)
    assert_exact_usage(rows)  # not shared out: each choice's own count (its logprobs tokens)
    bodies = posts(server, "/v1/completions")
    assert len(bodies) == 2 and {b["n"] for b in bodies} == {3}
    by_prompt = sorted((r["prompt"], r["sample"], r["response"]) for r in rows)
    assert by_prompt[:3] == [
        ("question 0", 0, "question 0 more more seed=5"),
        ("question 0", 1, "question 0 seed=6"),
        ("question 0", 2, "question 0 more seed=7"),
    ]
    assert [r["params"]["seed"] for r in rows[:3]] == [5, 6, 7]


def test_tgi_fans_out_n_requests_with_distinct_seeds(server: TGIServer, tmp_path: Path) -> None:
    rows = collect_candidates(f"tgi:{server.url},temperature=0.8,seed=5,label=t", tmp_path, 3)
    assert_exact_usage(rows)
    seeds = sorted(b["parameters"]["seed"] for b in posts(server, "/generate"))
    assert seeds == [5, 5, 6, 6, 7, 7]
    assert {r["response"].rsplit("=", 1)[1] for r in rows} == {"5", "6", "7"}


def test_acandidates_on_both_backends(server: TGIServer) -> None:
    for backend in ("openai", "tgi"):
        llm = ChatZephyr(backend=backend, base_url=server.url, temperature=0.5, seed=1)
        answers = _run(llm.acandidates("hello", 2))
        assert [a.content for a in answers] == ["hello more seed=1", "hello more more seed=2"]
        assert all(a.usage_metadata is not None for a in answers)
    greedy = ChatZephyr(backend="openai", base_url=server.url, temperature=0)
    assert len(_run(greedy.acandidates("hi", 2))) == 2
    assert all("n" not in body for body in posts(server, "/v1/completions")[-2:])


def _run(awaitable: Any) -> Any:
    import asyncio

    return asyncio.run(awaitable)


def test_replicas_named_on_the_command_line(tmp_path: Path) -> None:
    with (
        TGIServer(SeededBackend(), model_id="smollm2") as a,
        TGIServer(SeededBackend(), model_id="smollm2") as b,
    ):
        collect_candidates(f"tgi:{a.url}|{b.url},temperature=0.8,seed=1", tmp_path, 4, prompts=6)
        assert posts(a, "/generate") and posts(b, "/generate")
        assert len(posts(a, "/generate")) + len(posts(b, "/generate")) == 24


@pytest.mark.parametrize("kind", ["tgi", "openai"])
def test_replicas_of_different_models_are_refused_naming_each(kind: str, tmp_path: Path) -> None:
    with (
        TGIServer(SeededBackend(), model_id="smollm2") as a,
        TGIServer(SeededBackend(), model_id="qwen") as b,
    ):
        questions = tmp_path / "p.jsonl"
        questions.write_text('{"prompt": "hi"}\n')
        out = tmp_path / "o.jsonl"
        code, output = zephyr("collect", str(questions), "-m", f"{kind}:{a.url}|{b.url}",
                              "-o", str(out), "--no-progress")  # fmt: skip
        urls = a.url, b.url
    assert code == 2 and output.count("\n") == 1, output
    assert f"{urls[0]} serves smollm2" in output and f"{urls[1]} serves qwen" in output
    assert not out.exists()


def test_out_of_range_n_is_named(server: TGIServer) -> None:
    from zephyr_integrations.backends.base import InvalidParameterError

    llm = ChatZephyr(backend="openai", base_url=server.url)
    with pytest.raises(InvalidParameterError, match=r"n=0 is invalid: expected an integer in"):
        _run(llm.acandidates("hi", 0))


def test_the_replica_spelling_is_in_the_help() -> None:
    code, output = zephyr("collect", "--help")
    assert code == 0 and "joined with |" in output and "http://10.0.0.2:8000" in output


def test_collect_over_three_replicas_one_killed_mid_run_loses_nothing(tmp_path: Path) -> None:
    import threading
    import time

    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(TGIServer(SeededBackend(), model_id="smollm2"))
                   for _ in range(3)]  # fmt: skip
        for server in servers:
            server.latency = 0.02
        urls = [s.url for s in servers]

        def kill_when_busy() -> None:
            deadline = time.monotonic() + 20
            while len(posts(servers[1], "/generate")) < 5 and time.monotonic() < deadline:
                time.sleep(0.01)
            servers[1].stop()

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        spec = f"tgi:{'|'.join(urls)},temperature=0.8,seed=1,max_retries=3"
        rows = collect_candidates(spec, tmp_path, n=3, prompts=40)
        killer.join()
        served = [len(posts(s, "/generate")) for s in servers]
    assert served[1] >= 5 and served[0] + served[2] > 60, served
    assert len(rows) == 120 and all(r["response"] for r in rows)
