"""What calls a local model concurrently goes through its one continuously batched engine
(issue 16): `zephyr serve` answering several clients, `collect` and `judge`. Tiny model, fp32."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.integration.tgi_contract import post
from zephyr_integrations import ChatZephyr
from zephyr_integrations.backends import transformers as tf_backend
from zephyr_integrations.backends.base import GenerationParams, GenerationRequest
from zephyr_integrations.backends.transformers import TransformersBackend
from zephyr_integrations.preferences.collect import Generator, collect
from zephyr_integrations.preferences.feedback import judge
from zephyr_integrations.preferences.prompts import read_prompts
from zephyr_integrations.preferences.records import CandidateRow, prompt_id
from zephyr_integrations.testing.tgi_server import TGIServer


@pytest.fixture(autouse=True)
def engines(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh engine per test (its own scheduler and statistics); loopback HTTP allowed."""
    import huggingface_hub.constants

    monkeypatch.setattr(tf_backend, "_ENGINES", {})
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def local(path: Path, **fields: Any) -> ChatZephyr:
    return ChatZephyr(
        model=str(path), backend="transformers", backend_kwargs={"dtype": "float32"}, **fields
    )


def test_serve_answers_concurrent_clients_in_one_batch(tiny_model_path: Path) -> None:
    backend = TransformersBackend(str(tiny_model_path), dtype="float32")
    prompts = [f"<|user|>\nquestion {i}</s>\n<|assistant|>\n" for i in range(4)]
    alone = [
        backend.generate([GenerationRequest(p, GenerationParams(max_new_tokens=40))])[0].text
        for p in prompts
    ]
    replies: dict[int, Any] = {}
    with TGIServer(backend) as server:
        start = threading.Barrier(len(prompts))

        def client(i: int) -> None:
            start.wait()
            body = {"inputs": prompts[i], "parameters": {"max_new_tokens": 40}}
            replies[i] = post(server.url, "/generate", body)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(prompts))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert [json.loads(replies[i].body)["generated_text"] for i in range(4)] == alone
    assert backend.engine.scheduler.stats.peak_batch > 1  # the clients shared decode steps


def test_collect_on_a_local_model_batches_its_calls(tiny_model_path: Path, tmp_path: Path) -> None:
    source = tmp_path / "p.jsonl"
    source.write_text("".join(json.dumps({"prompt": f"question {i}"}) + "\n" for i in range(6)))
    model = local(tiny_model_path)
    report = collect(
        read_prompts(source),
        [Generator(model, {"temperature": 0, "max_tokens": 20}, label="tiny")],
        tmp_path / "c.jsonl",
        n=2,
        concurrency=12,
    )
    assert report.written == 12 and not report.failures
    engine = model._backend.engine  # type: ignore[attr-defined]
    assert engine.scheduler.stats.peak_batch > 1
    rows = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    for row in rows:
        alone = model.invoke(row["messages"][0]["content"], temperature=0, max_tokens=20)
        assert row["response"] == alone.text


def candidates(*answers: str) -> list[CandidateRow]:
    prompt = "Name a prime number."
    return [
        CandidateRow(
            prompt_id=prompt_id(prompt),
            prompt=prompt,
            messages=[{"role": "user", "content": prompt}],
            model="gen",
            sample=sample,
            response=answer,
            params={},
            usage=None,
            finish_reason="stop",
            flags=[],
        )
        for sample, answer in enumerate(answers)
    ]


def test_judge_on_a_local_model_batches_constrained_calls(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    rows = candidates("Seven.", "Eleven.", "Four.", "Two.")
    model = local(tiny_model_path, temperature=0, max_tokens=120)
    judge(rows, model, tmp_path / "one.jsonl", concurrency=1)
    engine = model._backend.engine  # type: ignore[attr-defined]
    assert engine.scheduler.stats.peak_batch == 1
    judge(rows, model, tmp_path / "all.jsonl", concurrency=4)
    assert engine.scheduler.stats.peak_batch > 1  # grammar rows decoded side by side
    one = (tmp_path / "one.jsonl").read_text().splitlines()
    together = (tmp_path / "all.jsonl").read_text().splitlines()
    assert len(together) == 4
    strip = ("latency", "elapsed", "created")
    assert [_without(json.loads(r), strip) for r in together] == [
        _without(json.loads(r), strip) for r in one
    ]


def _without(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in keys}
