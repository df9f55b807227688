"""Rows -> records: deterministic ids, seeded per-record shuffling, suggestions, validation."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.integration.argilla.candidates import candidates
from zephyr_integrations.preferences.argilla.layout import (
    RecordError,
    build_payload,
    group_candidates,
    record_id,
    shuffled_order,
)
from zephyr_integrations.preferences.argilla.templates import (
    PairwiseTemplate,
    RankingTemplate,
    RatingTemplate,
)

MESSAGES = [{"role": "user", "content": "hi"}]


def test_record_id_depends_on_prompt_and_responses_not_their_order() -> None:
    a = record_id(MESSAGES, ["x", "y"])  # type: ignore[arg-type]
    assert a == record_id(MESSAGES, ["y", "x"])  # type: ignore[arg-type]
    assert a != record_id(MESSAGES, ["x", "z"])  # type: ignore[arg-type]
    assert a != record_id([{"role": "user", "content": "hello"}], ["x", "y"])  # type: ignore[arg-type]
    assert len(a) == 64


@given(st.text(min_size=1), st.integers(2, 9), st.integers(0, 10**6))
def test_shuffled_order_is_a_deterministic_permutation(rid: str, n: int, seed: int) -> None:
    order = shuffled_order(rid, n, seed)
    assert sorted(order) == list(range(n))
    assert order == shuffled_order(rid, n, seed)


def test_order_varies_across_records_and_mapping_restores_models() -> None:
    rows = candidates(40, 4)
    template = RankingTemplate(responses=4)
    payloads = [build_payload(template, g) for g in group_candidates(rows)]
    orders = {tuple(p["metadata"][f"position_{i}"] for i in range(1, 5)) for p in payloads}
    assert len(orders) > 5  # shuffled per record, not one fixed order
    for payload, group in zip(payloads, group_candidates(rows), strict=True):
        for slot in range(1, 5):
            position = payload["metadata"][f"position_{slot}"]
            original = group.candidates[position]
            assert payload["fields"][f"response_{slot}"] == original["response"]
            assert payload["metadata"][f"model_{slot}"] == original["model"]
        assert payload["fields"]["conversation"] == [dict(m) for m in group.messages]
        assert "model-" not in str(payload["fields"])  # no model names in what annotators see
    again = [build_payload(template, g) for g in group_candidates(rows)]
    assert again == payloads


def test_judge_ratings_become_suggestions_with_the_judge_as_agent() -> None:
    (group,) = group_candidates(candidates(1, 2, judged=True))
    rating = build_payload(RatingTemplate.ultrafeedback(2), group)
    by_question = {s["question_name"]: s for s in rating["suggestions"]}
    slot_of = {rating["metadata"][f"model_{i}"]: i for i in (1, 2)}
    assert by_question[f"helpfulness_{slot_of['model-1']}"]["value"] == 2
    assert by_question[f"honesty_{slot_of['model-0']}"]["value"] == 5
    assert {s["agent"] for s in rating["suggestions"]} == {"judge-tiny"}
    assert f"truthfulness_{slot_of['model-0']}" not in by_question  # not rated: no suggestion
    pairwise = build_payload(PairwiseTemplate(), group)
    assert pairwise["suggestions"] == [
        {
            "question_name": "preference",
            "value": f"response_{slot_of['model-1']}",
            "agent": "judge-tiny",
        }
    ]
    assert (
        build_payload(PairwiseTemplate(), group_candidates(candidates(1, 2))[0])["suggestions"]
        == []
    )


def scored_only(rewards: list[float], scale: Any = None) -> Any:
    """Candidates a reward model judged: a score (and its scale), no ratings."""
    rows = candidates(1, len(rewards))
    for row, reward in zip(rows, rewards, strict=True):
        row["score"] = reward
        row["judge"] = "rm-tiny"
        if scale is not None:
            row["scale"] = scale
    (group,) = group_candidates(rows)
    return group


UNBOUNDED = {"low": None, "high": None, "meaning": "reward logits of rm-tiny"}


def test_score_only_judges_suggest_the_ranking_preference_and_overall_rating() -> None:
    group = scored_only([0.25, -3.5, 7.0, 1.0], UNBOUNDED)
    ranking = build_payload(RankingTemplate(responses=4), group)
    slot_of = {ranking["metadata"][f"model_{i}"]: i for i in range(1, 5)}
    (suggestion,) = ranking["suggestions"]
    assert suggestion["agent"] == "rm-tiny"
    assert [v["value"] for v in suggestion["value"]] == [
        f"response_{slot_of[m]}" for m in ("model-2", "model-3", "model-0", "model-1")
    ]
    rating = build_payload(RatingTemplate(responses=4), group)
    by_question = {s["question_name"]: s["value"] for s in rating["suggestions"]}
    # an unbounded reward is placed on 1-5 between the record's lowest and highest
    assert by_question == {
        f"overall_{slot_of['model-2']}": 5,  # the highest, 7.0
        f"overall_{slot_of['model-1']}": 1,  # the lowest, -3.5
        f"overall_{slot_of['model-0']}": 2,  # 1 + 4 * 3.75 / 10.5 = 2.43
        f"overall_{slot_of['model-3']}": 3,  # 1 + 4 * 4.5 / 10.5 = 2.71
    }
    two = scored_only([2.0, -1.0], UNBOUNDED)
    pairwise = build_payload(PairwiseTemplate(), two)
    slot = {pairwise["metadata"][f"model_{i}"]: i for i in (1, 2)}
    assert pairwise["suggestions"] == [
        {"question_name": "preference", "value": f"response_{slot['model-0']}", "agent": "rm-tiny"}
    ]
    # the 1-10 of a bounded scale maps linearly; a row without a scale is the aspect mean's 1-5
    bounded = build_payload(
        RatingTemplate(responses=2),
        scored_only([10.0, 3.25], {"low": 1, "high": 10, "meaning": "x"}),
    )
    assert sorted(s["value"] for s in bounded["suggestions"]) == [2, 5]
    plain = build_payload(RatingTemplate(responses=2), scored_only([4.4, 1.5]))
    assert sorted(s["value"] for s in plain["suggestions"]) == [2, 4]


def test_score_only_feedback_becomes_suggestions_on_its_own_scale() -> None:
    rows = candidates(1, 3)
    for row, score in zip(rows, [-2.0, 6.0, 2.0], strict=True):  # a reward model's, -2..6
        row.update(score=score, judge="rm-tiny", scale={"low": -2.0, "high": 6.0, "meaning": "rm"})
    (group,) = group_candidates(rows)
    ranking = build_payload(RankingTemplate(responses=3), group)
    slot_of = {ranking["metadata"][f"model_{i}"]: i for i in (1, 2, 3)}
    (suggestion,) = ranking["suggestions"]
    assert suggestion["agent"] == "rm-tiny"
    assert [v["value"] for v in suggestion["value"]] == [
        f"response_{slot_of[model]}" for model in ("model-1", "model-2", "model-0")
    ]
    overall = build_payload(RatingTemplate(responses=3), group)
    by_slot = {s["question_name"]: s["value"] for s in overall["suggestions"]}
    assert by_slot == {
        f"overall_{slot_of[f'model-{m}']}": value for m, value in enumerate([1, 5, 3])
    }
    assert build_payload(RatingTemplate.ultrafeedback(3), group)["suggestions"] == []  # no aspects


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r.pop("response"),
            r"candidate row 3 \(prompt_id [0-9a-f]+\): missing field 'response'",
        ),
        (lambda r: r.update(model=None), r"candidate row 3 .*missing field 'model'"),
        (lambda r: r.update(messages=[]), r"candidate row 3 .*'messages' must be a non-empty list"),
        (
            lambda r: r.update(ratings={"honesty": {"rating": 9, "rationale": ""}}),
            r"candidate row 3 .*'ratings.honesty.rating' must be an integer 1-5",
        ),
    ],
)
def test_bad_rows_name_the_row_and_field(change: Any, message: str) -> None:
    rows: list[Any] = candidates(2, 2)
    change(rows[3])
    with pytest.raises(RecordError, match=message):
        group_candidates(rows)


def test_wrong_number_of_responses_names_the_prompt() -> None:
    (group,) = group_candidates(candidates(1, 3))
    with pytest.raises(RecordError, match=rf"prompt_id {group.prompt_id}: 3 responses"):
        build_payload(PairwiseTemplate(), group)
