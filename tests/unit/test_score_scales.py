"""Scores carry their scale: every template's aggregated rows and AI feedback give pairs with
default options, and out-of-range detection uses each row's own scale."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_argilla_aggregate import _ranks, _record
from zephyr_integrations.preferences.argilla.aggregate import aggregate
from zephyr_integrations.preferences.argilla.pull import PulledDataset
from zephyr_integrations.preferences.binarize import BinarizeOptions, binarize
from zephyr_integrations.preferences.dataset_card import Provenance, render_card
from zephyr_integrations.preferences.records import (
    CandidateRow,
    from_candidates,
    mean_rating,
    preference_row,
    prompt_id,
)
from zephyr_integrations.preferences.report import write_report
from zephyr_integrations.preferences.rubric import (
    JUDGE_MAX_TOKENS,
    LEVELS,
    RUBRIC,
    UltraFeedbackRatings,
)
from zephyr_integrations.preferences.splits import make_splits


def chosen_model(rows: list[Any]) -> str:
    (pair,) = binarize(rows).pairs.to_pylist()
    return str(pair["chosen_model"])


def test_ranking_rows_say_they_are_borda_points_and_binarize_by_default() -> None:
    # slot 1 shows m2, slot 2 m1, slot 3 m0; both annotators rank slot 3 (m0) first
    answers = [(u, "submitted", {"ranking": _ranks(3, 2, 1)}) for u in ("a", "b")]
    (row,) = aggregate(PulledDataset("d", "ranking", (), [_record("r", answers)])).rows
    assert row["scale"]["low"] == 0 and row["scale"]["high"] == 2
    assert "Borda" in row["scale"]["meaning"]
    assert chosen_model([row]) == "m0"


def test_pairwise_rows_are_votes_from_zero_to_one() -> None:
    votes = [("a", "submitted", {"preference": "response_2"})]
    (row,) = aggregate(PulledDataset("d", "pairwise", (), [_record("r", votes, n=2)])).rows
    assert (row["scale"]["low"], row["scale"]["high"]) == (0.0, 1.0)
    assert chosen_model([row]) == "m0"  # slot 2 shows input position 0


def test_rating_rows_are_one_to_five() -> None:
    values = {"overall_1": 2, "overall_2": 5}
    record = _record("r", [("a", "submitted", values)], n=2)
    (row,) = aggregate(PulledDataset("d", "rating", ("overall",), [record])).rows
    assert (row["scale"]["low"], row["scale"]["high"]) == (1.0, 5.0)
    assert chosen_model([row]) == "m0"


def test_out_of_range_is_judged_on_the_rows_own_scale() -> None:
    answers = [("a", "submitted", {"ranking": _ranks(3, 2, 1)})]
    (row,) = aggregate(PulledDataset("d", "ranking", (), [_record("r", answers)])).rows
    row["completions"][0]["score"] = 2.5  # above a 3-answer Borda count's 2
    assert binarize([row]).dropped == Counter({"out_of_range_score": 1})
    del row["scale"]  # no scale: UltraFeedback's 1-10, which 0 is outside of as well
    assert binarize([row]).dropped == Counter({"out_of_range_score": 1})
    row["scale"] = {"low": 5, "high": 1, "meaning": "backwards"}
    assert binarize([row]).dropped == Counter({"malformed": 1})
    # an explicit range applies to every row, whatever its scale
    row["scale"] = {"low": 0, "high": 2, "meaning": "borda"}
    assert binarize([row], BinarizeOptions(score_range=(0.0, 3.0))).pairs.num_rows == 1


def judged(prompt: str, model: str, ratings: dict[str, int | str]) -> CandidateRow:
    stored = {aspect: {"rating": value, "rationale": "r"} for aspect, value in ratings.items()}
    return CandidateRow(  # type: ignore[typeddict-item]
        prompt_id=prompt_id(prompt),
        prompt=prompt,
        messages=[{"role": "user", "content": prompt}],
        model=model,
        sample=0,
        response=f"answer of {model}",
        params={},
        usage=None,
        finish_reason="stop",
        ratings=stored,
        judge="judge-x",
        score=mean_rating(stored),  # type: ignore[arg-type]
    )


def test_not_applicable_honesty_is_skipped_and_the_card_says_what_was_compared() -> None:
    high = judged("q", "a", {"instruction_following": 5, "honesty": "N/A", "helpfulness": 4})
    low = judged("q", "b", {"instruction_following": 2, "honesty": 5, "helpfulness": 2})
    assert high["score"] == 4.5 and low["score"] == 3.0
    (row,) = from_candidates([high, low])
    assert (row["scale"]["low"], row["scale"]["high"]) == (1.0, 5.0)
    meaning = row["scale"]["meaning"]
    assert "instruction_following, honesty, helpfulness" in meaning and "judge-x" in meaning
    result = binarize([row])
    assert result.pairs.num_rows == 1 and list(result.scales) == [meaning]
    card = render_card(make_splits(result.pairs, test_size=0.0), Provenance.from_result(
        result, test_size=0.0))  # fmt: skip
    assert meaning in card and "its record's own scale" in card


def test_honesty_accepts_not_applicable_and_other_aspects_do_not() -> None:
    value = {
        "instruction_following": {"rating": 4, "rationale": "ok"},
        "honesty": {"rating": "N/A", "rationale": "a poem"},
        "truthfulness": {"rating": 5, "rationale": "ok"},
        "helpfulness": {"rating": 3, "rationale": "ok"},
    }
    parsed = UltraFeedbackRatings.model_validate(value)
    assert mean_rating(parsed.ratings()) == 4.0
    with pytest.raises(ValueError, match="helpfulness"):
        UltraFeedbackRatings.model_validate(
            {**value, "helpfulness": {"rating": "N/A", "rationale": "x"}}
        )


def test_rubric_names_ultrafeedbacks_levels_and_budget_follows_the_schema() -> None:
    for aspect, levels in LEVELS.items():
        assert len(levels) == 5
        for number, (name, _) in enumerate(levels, start=1):
            assert f"{number} = {name}:" in RUBRIC, (aspect, name)
    assert "Comprehensive Compliance" in RUBRIC and "No Hallucination" in RUBRIC
    # four aspects, each a capped rationale of 300 characters plus keys and a rating
    assert 4 * 300 < JUDGE_MAX_TOKENS < 4 * 300 + 250


def test_quickstart_stops_when_too_little_feedback_parsed() -> None:
    from zephyr_integrations.quickstart import FeedbackTooSparseError, check_feedback

    ok = judged("q", "a", {"helpfulness": 4})
    failed = {**judged("q", "b", {}), "score": None, "judge_error": "did not parse"}
    check_feedback([ok, failed], "/models/smol")  # half parsed: enough to go on
    with pytest.raises(FeedbackTooSparseError, match=r"only 1 of 3 answers .* --model") as info:
        check_feedback([ok, failed, failed], "/models/smol")  # type: ignore[list-item]
    assert "\n" not in str(info.value) and "smol" in str(info.value)


def reward_row(scores: list[float], scale: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = dict(
        preference_row("q", [(f"m{k}", f"answer {k}", s) for k, s in enumerate(scores)])
    )
    row["scale"] = scale
    return row


UNBOUNDED = {"low": None, "high": None, "meaning": "reward logits of rm-x"}


def test_an_unbounded_scale_is_null_bounds_and_any_finite_score_is_on_it(tmp_path: Path) -> None:
    row = reward_row([-37.5, 412.0, 3.0], UNBOUNDED)
    result = binarize([row])
    assert result.dropped == Counter() and result.pairs.num_rows == 1
    (pair,) = result.pairs.to_pylist()
    assert (pair["chosen_model"], pair["score_chosen"]) == ("m1", 412.0)
    (scale,) = result.summary()["scales"]
    assert scale == {"meaning": "reward logits of rm-x", "low": None, "high": None}
    json.dumps(result.summary(), allow_nan=False)  # no infinity leaks into JSON
    card = render_card(make_splits(result.pairs, test_size=0.0), Provenance.from_result(
        result, test_size=0.0))  # fmt: skip
    assert "- reward logits of rm-x (unbounded)" in card
    folder = write_report(result, tmp_path / "report")  # its histogram spans the scores seen
    assert (folder / "scores.png").is_file()
    half_open = reward_row([0.5, 9.0], {"low": 0, "high": None, "meaning": "non-negative"})
    assert binarize([half_open]).pairs.num_rows == 1
    half_open["completions"][0]["score"] = -0.5  # below the one bound it has
    assert binarize([half_open]).dropped == Counter({"out_of_range_score": 1})


@pytest.mark.parametrize(
    "scale",
    [
        {"low": float("-inf"), "high": None, "meaning": "infinity is written null"},
        {"low": None, "meaning": "no high at all"},
        {"low": 3, "high": 3, "meaning": "empty"},
        {"low": "0", "high": None, "meaning": "a string"},
    ],
)
def test_bad_scales_are_malformed_records(scale: dict[str, Any]) -> None:
    result = binarize([reward_row([1.0, 2.0], scale)])
    assert result.dropped == Counter({"malformed": 1})
    (example,) = result.examples["malformed"]
    assert "field 'scale'" in example and "null: unbounded" in example
