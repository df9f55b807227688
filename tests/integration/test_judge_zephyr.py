"""The judge with ChatZephyr's own with_structured_output: over the TGI protocol and on local
Transformers with the tiny model."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from zephyr_integrations import ChatZephyr
from zephyr_integrations.preferences.feedback import judge
from zephyr_integrations.preferences.records import ULTRAFEEDBACK_ASPECTS, CandidateRow, prompt_id
from zephyr_integrations.testing.scripted_backend import ScriptedBackend
from zephyr_integrations.testing.tgi_server import TGIServer


@pytest.fixture(autouse=True)
def _loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def scripted_ratings(prompt: str) -> str:
    """A scripted judge: rates the answer in the prompt by its length in words (1-5), or 9 when
    it says OFFSCALE. It writes JSON and ignores the grammar, so a bad rating can reach the
    parser."""
    answer = re.split(r"# Answer to rate\n\n", prompt)[-1].split("</s>")[0]
    words = len(answer.split())
    value = 9 if "OFFSCALE" in answer else max(1, min(5, words))
    aspect = {"rating": value, "rationale": f"{words} words"}
    return json.dumps({name: aspect for name in ULTRAFEEDBACK_ASPECTS})


@pytest.fixture
def server() -> Iterator[TGIServer]:
    # grammar=True: accepts the schema's grammar (and answers from its script regardless)
    backend = ScriptedBackend(model="scripted-judge", reply=scripted_ratings, grammar=True)
    with TGIServer(backend, model_id="judge-7b") as running:
        yield running


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


def test_chat_zephyr_judges_over_tgi(server: TGIServer, tmp_path: Path) -> None:
    judge_model = ChatZephyr(backend="tgi", base_url=server.url, temperature=0, max_tokens=300)
    out = tmp_path / "judged.jsonl"
    report = judge(candidates("7.", "Two is the smallest prime.", "OFFSCALE"), judge_model, out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["score"] for r in rows] == [1.0, 5.0, None]
    assert rows[1]["ratings"]["truthfulness"] == {"rating": 5, "rationale": "5 words"}
    assert rows[0]["judge"] == "judge-7b"  # the name the server reports
    [failure] = report.failures
    assert (failure.where, failure.model, failure.sample) == ("row 2", "gen", 2)
    assert failure.error.startswith("judge judge-7b: the reply did not parse")
    assert "less than or equal to 5" in rows[2]["judge_error"]
    grammars = [
        r.body["parameters"].get("grammar") for r in server.requests if r.path == "/generate"
    ]
    assert grammars and all(g is not None for g in grammars)  # the schema went to the server


def test_chat_zephyr_on_transformers_judges_or_records_why_not(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    """The tiny random model writes schema-shaped JSON under constrained decoding, but its short
    context ends the reply inside a rationale: each row is kept with the reason, naming the
    record and the judge, and nothing crashes."""
    local = ChatZephyr(
        model=str(tiny_model_path),
        backend="transformers",
        backend_kwargs={"dtype": "float32"},
        temperature=0,
        max_tokens=200,
    )
    out = tmp_path / "judged.jsonl"
    report = judge(candidates("Seven.", "Eleven."), local, out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and report.rated + len(report.failures) == 2
    for row in rows:
        if row["score"] is None:
            assert row["judge_error"].startswith(f"judge {tiny_model_path}: the reply did not")
        else:
            assert {r["rating"] for r in row["ratings"].values()} <= {1, 2, 3, 4, 5}
    for failure in report.failures:
        assert failure.model == "gen" and failure.where in ("row 0", "row 1")
        assert '{"instruction_following":{"rationale":' in failure.error  # constrained JSON
