"""The judge on real weights: SmolLM2-135M-Instruct (the main job's default model) rates an
answer to each bundled prompt, and every reply parses: the closed rating schema and the budget it
implies leave a small model no way to ramble past the end of the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zephyr_integrations import ChatZephyr
from zephyr_integrations.local_models import smollm2_folder
from zephyr_integrations.preferences.feedback import judge
from zephyr_integrations.preferences.prompts import read_prompts
from zephyr_integrations.preferences.records import ULTRAFEEDBACK_ASPECTS, CandidateRow
from zephyr_integrations.preferences.rubric import JUDGE_MAX_TOKENS, MAX_RATIONALE
from zephyr_integrations.quickstart import bundled_prompts

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def test_smollm2_judges_an_answer_to_every_bundled_prompt(tmp_path: Path) -> None:
    prompts = read_prompts(bundled_prompts()).prompts
    assert len(prompts) == 8
    rows = [
        CandidateRow(
            prompt_id=prompt.prompt_id,
            prompt=prompt.prompt,
            messages=list(prompt.messages),
            model="reference",
            sample=0,
            response="I am not sure, but here is my best short answer to that.",
            params={},
            usage=None,
            finish_reason="stop",
        )
        for prompt in prompts
    ]
    judge_model = ChatZephyr(model=str(smollm2_folder()), temperature=0)  # no budget of its own
    report = judge(rows, judge_model, tmp_path / "rated.jsonl", concurrency=4)
    assert report.failures == [], [failure.error for failure in report.failures]
    rated = [json.loads(line) for line in (tmp_path / "rated.jsonl").read_text().splitlines()]
    assert len(rated) == 8
    for row in rated:
        assert set(row["ratings"]) == set(ULTRAFEEDBACK_ASPECTS)
        for aspect, rating in row["ratings"].items():
            assert rating["rating"] in (1, 2, 3, 4, 5) or (
                aspect == "honesty" and rating["rating"] == "N/A"
            )
            assert len(rating["rationale"]) <= MAX_RATIONALE
        assert 1 <= row["score"] <= 5
    assert JUDGE_MAX_TOKENS > 4 * MAX_RATIONALE  # the budget covers four full rationales
