"""Aggregation (mean rating, Borda with ties, pairwise majority) and Krippendorff's alpha."""

from __future__ import annotations

from typing import Any

import pytest

from zephyr_integrations.preferences.argilla.aggregate import aggregate
from zephyr_integrations.preferences.argilla.agreement import krippendorff_alpha
from zephyr_integrations.preferences.argilla.pull import (
    AnnotatorResponse,
    PulledDataset,
    PulledRecord,
)


def _record(rid: str, answers: list[tuple[str, str, dict[str, Any]]], n: int = 3) -> PulledRecord:
    # slot i shows input position (n - 1 - i): the output must come back in input order
    return PulledRecord(
        record_id=rid,
        prompt_id=f"p-{rid}",
        messages=[
            {"role": "user", "content": "earlier"},
            {"role": "user", "content": f"prompt {rid}"},
        ],
        responses=[f"text {n - 1 - i}" for i in range(n)],
        models=[f"m{n - 1 - i}" for i in range(n)],
        positions=[n - 1 - i for i in range(n)],
        answers=[
            AnnotatorResponse(rid, user, user, status, values) for user, status, values in answers
        ],
    )


def _ranks(*ranks: int) -> tuple[tuple[str, int], ...]:
    return tuple((f"response_{i}", r) for i, r in enumerate(ranks, start=1))


def test_borda_keeps_ties_and_ignores_drafts_and_discards() -> None:
    record = _record(
        "r1",
        [
            ("ann", "submitted", {"ranking": _ranks(1, 1, 2)}),
            ("bob", "submitted", {"ranking": _ranks(1, 2, 3)}),
            ("cat", "draft", {"ranking": _ranks(3, 2, 1)}),
            ("dan", "discarded", {}),
        ],
    )
    empty = _record("r2", [("cat", "draft", {"ranking": _ranks(1, 2, 3)})])
    report = aggregate(PulledDataset("d", "ranking", (), [record, empty]))
    (row,) = report.rows
    assert row["source"] == "human"
    assert row["prompt"] == "prompt r1"
    assert [c["model"] for c in row["completions"]] == ["m0", "m1", "m2"]
    assert [c["response"] for c in row["completions"]] == ["text 0", "text 1", "text 2"]
    # slot1 (m2): (1.5 + 2)/2, slot2 (m1): (1.5 + 1)/2, slot3 (m0): 0
    assert [c["score"] for c in row["completions"]] == [0.0, 1.25, 1.75]
    assert report.records_without_submissions == 1
    assert report.per_annotator["cat"] == {"submitted": 0, "draft": 2, "discarded": 0}
    assert report.per_annotator["dan"] == {"submitted": 0, "draft": 0, "discarded": 1}


def test_mean_rating_over_aspects_then_annotators() -> None:
    values_a = {"helpfulness_1": 5, "honesty_1": 3, "helpfulness_2": 2, "honesty_2": 2}
    values_b = {"helpfulness_1": 4, "honesty_1": 4, "helpfulness_2": 1}  # one aspect skipped
    record = _record("r", [("a", "submitted", values_a), ("b", "submitted", values_b)], n=2)
    (row,) = aggregate(PulledDataset("d", "rating", ("helpfulness", "honesty"), [record])).rows
    # slot1 = m1: (4 + 4)/2 = 4; slot2 = m0: (2 + 1)/2 = 1.5
    assert {c["model"]: c["score"] for c in row["completions"]} == {"m1": 4.0, "m0": 1.5}


@pytest.mark.parametrize(
    ("votes", "expected"),
    [
        (["response_1", "response_1", "tie"], {"m1": 1.0, "m0": 0.0}),
        (["response_2", "response_1", "response_2"], {"m1": 0.0, "m0": 1.0}),
        (["response_1", "response_2"], {"m1": 0.5, "m0": 0.5}),  # no majority
        (["tie", "tie", "response_1"], {"m1": 0.5, "m0": 0.5}),
    ],
)
def test_pairwise_majority(votes: list[str], expected: dict[str, float]) -> None:
    record = _record(
        "r", [(f"u{i}", "submitted", {"preference": v}) for i, v in enumerate(votes)], n=2
    )
    report = aggregate(PulledDataset("d", "pairwise", (), [record]))
    (row,) = report.rows
    assert {c["model"]: c["score"] for c in row["completions"]} == expected
    assert row["agreement"] is None  # one choice per prompt: alpha undefined per prompt


def test_alpha_matches_known_values() -> None:
    perfect = {u: {"a": float(u % 3), "b": float(u % 3)} for u in range(6)}
    assert krippendorff_alpha(perfect, "nominal") == pytest.approx(1.0)
    # Two coders disagree systematically on a 2-value nominal scale: alpha = -1/3 * ... < 0
    opposite = {0: {"a": 0.0, "b": 1.0}, 1: {"a": 1.0, "b": 0.0}, 2: {"a": 0.0, "b": 1.0}}
    assert krippendorff_alpha(opposite, "nominal") < 0
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal example with
    # 4 coders and 12 units (missing values allowed): alpha = 0.743
    table = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = {
        u: {f"c{c}": float(row[u]) for c, row in enumerate(table) if row[u] is not None}  # type: ignore[arg-type]
        for u in range(12)
    }
    assert krippendorff_alpha(units, "nominal") == pytest.approx(0.743, abs=1e-3)


def test_alpha_undefined_cases_are_none() -> None:
    assert krippendorff_alpha({}, "ordinal") is None
    assert krippendorff_alpha({"u": {"a": 1.0}}, "ordinal") is None  # one coder
    assert krippendorff_alpha({"u": {"a": 2.0, "b": 2.0}}, "ordinal") is None  # no variation
