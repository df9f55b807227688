"""The comparative judge on real weights: SmolLM2-135M-Instruct rates two answers to one bundled
prompt side by side, one call per aspect, and every reply parses into exactly two ratings: the
schema asks for that count and the constrained decoder cannot write another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zephyr_integrations import ChatZephyr
from zephyr_integrations.local_models import smollm2_folder
from zephyr_integrations.preferences.feedback import judge
from zephyr_integrations.preferences.judges.comparative import ComparativeJudge
from zephyr_integrations.preferences.prompts import read_prompts
from zephyr_integrations.preferences.records import ULTRAFEEDBACK_ASPECTS, CandidateRow
from zephyr_integrations.preferences.rubric import MAX_RATIONALE
from zephyr_integrations.quickstart import bundled_prompts

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def test_smollm2_rates_two_answers_side_by_side(tmp_path: Path) -> None:
    prompt = read_prompts(bundled_prompts()).prompts[0]
    answers = ["I do not know.", "Here is a short, direct answer to your question."]
    rows = [
        CandidateRow(
            prompt_id=prompt.prompt_id,
            prompt=prompt.prompt,
            messages=list(prompt.messages),
            model="reference",
            sample=sample,
            response=answer,
            params={},
            usage=None,
            finish_reason="stop",
        )
        for sample, answer in enumerate(answers)
    ]
    model = ChatZephyr(model=str(smollm2_folder()), temperature=0)  # no budget of its own
    rater = ComparativeJudge(model, seed=0, label="smollm2")
    report = judge(rows, rater, tmp_path / "rated.jsonl", concurrency=1)
    assert report.failures == [], [failure.error for failure in report.failures]
    rated = [json.loads(line) for line in (tmp_path / "rated.jsonl").read_text().splitlines()]
    assert [row["response"] for row in rated] == answers
    for row in rated:
        assert set(row["ratings"]) == set(ULTRAFEEDBACK_ASPECTS)
        for aspect, rating in row["ratings"].items():
            assert rating["rating"] in (1, 2, 3, 4, 5) or (
                aspect == "honesty" and rating["rating"] == "N/A"
            )
            assert len(rating["rationale"]) <= MAX_RATIONALE
        assert 1 <= row["score"] <= 5 and row["judge"] == "smollm2"
        assert "side by side" in row["scale"]["meaning"]
