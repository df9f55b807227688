"""The stage-row table: one validator per stage, each naming the first wrong field."""

from __future__ import annotations

from typing import Any

import pytest

from zephyr_integrations.preferences.records import prompt_id
from zephyr_integrations.preferences.stages import (
    STAGES,
    candidate_problem,
    judged_problem,
    pair_problem,
    preference_problem,
)

TURNS = [{"role": "user", "content": "q"}]


def candidate(**change: Any) -> dict[str, Any]:
    row = {
        "prompt_id": prompt_id("q"),
        "prompt": "q",
        "messages": TURNS,
        "model": "m",
        "sample": 0,
        "response": "a",
        "params": {},
        "usage": None,
        "finish_reason": "stop",
    }
    return {**row, **change}


def test_every_stage_of_the_table_has_its_validator() -> None:
    assert {name: stage.check for name, stage in STAGES.items()} == {
        "candidate": candidate_problem,
        "judged": judged_problem,
        "preference": preference_problem,
        "pair": pair_problem,
    }


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (candidate(), None),
        ({k: v for k, v in candidate().items() if k != "response"}, "missing field 'response'"),
        (candidate(sample=True), "field 'sample' must be an integer 0 or more"),
        (candidate(messages=[]), "field 'messages' must be a non-empty list"),
        (candidate(messages=[{"role": "user"}]), "field 'messages' turn 0 needs string"),
        ([1], "expected a candidate row (an object), got list"),
    ],
)
def test_candidate_rows(row: Any, problem: str | None) -> None:
    found = candidate_problem(row)
    assert found == problem if problem is None else (found or "").startswith(problem)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (candidate(score=3.5), None),
        (candidate(score=None, judge_error="reply did not parse"), None),
        (candidate(ratings={"honesty": {"rating": "N/A", "rationale": ""}}), None),
        (candidate(), "no 'score' or 'ratings': not judged"),
        (candidate(score="high"), "field 'score' must be a finite number or null"),
        (candidate(score=float("nan")), "field 'score' must be a finite number or null"),
        (candidate(score=1, scale={"low": None, "high": None, "meaning": "reward"}), None),
        (
            candidate(score=2, ratings={"honesty": {"rating": 6, "rationale": ""}}),
            "field 'ratings.honesty.rating' must be an integer 1-5 or 'N/A'",
        ),
        (
            candidate(score=2, scale={"low": 5, "high": 1, "meaning": ""}),
            "field 'scale' must be {low, high, meaning}",
        ),
    ],
)
def test_judged_rows(row: Any, problem: str | None) -> None:
    found = judged_problem(row)
    assert found == problem if problem is None else (found or "").startswith(problem)


def test_preference_rows_and_pairs() -> None:
    preference = {
        "prompt_id": prompt_id("q"),
        "prompt": "q",
        "messages": TURNS,
        "completions": [{"model": "m", "response": "a", "score": 1.0}],
        "source": "ai",
    }
    assert preference_problem(preference) is None
    bad = {**preference, "completions": [{"model": "m", "response": "a", "score": "1"}]}
    assert preference_problem(bad) == "field 'completions[0].score' must be a number or null"
    pair = {
        "prompt": "q",
        "prompt_id": prompt_id("q"),
        "chosen": [*TURNS, {"role": "assistant", "content": "a"}],
        "rejected": [*TURNS, {"role": "assistant", "content": "b"}],
        "messages": [*TURNS, {"role": "assistant", "content": "a"}],
        "score_chosen": 5.0,
        "score_rejected": 1.0,
    }
    assert pair_problem(pair) is None
    assert (
        pair_problem({**pair, "score_rejected": None}) == "field 'score_rejected' must be a number"
    )
    assert pair_problem({**pair, "rejected": "b"}) == (
        "field 'rejected' must be a non-empty list of {role, content} strings"
    )
