"""Annotators' answers -> one `PreferenceRow` per prompt (source "human"), with agreement.

Only submitted answers count; drafts and discarded answers are left out of the scores but counted
in the report. Per template:

- rating: an answer's score is the mean over annotators of the mean over aspects (1-5);
- ranking: the Borda count, averaged over annotators: an answer gets one point for every answer
  ranked below it and half a point for every answer tied with it (ties are kept);
- pairwise: majority vote: the winner scores 1 and the loser 0; a tie vote or no majority gives
  both 0.5.

Each row carries its `ScoreScale`, so binarizing checks scores against the template's own range
(rating 1-5, ranking 0..n-1 Borda points, pairwise 0-1) instead of assuming UltraFeedback's 1-10.
Each completion gets its original model back from the hidden mapping, in the logged order.
Agreement is Krippendorff's alpha: per prompt (ratings / ranks of its answers; None for a single
pairwise choice) and over the whole dataset.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from zephyr_integrations.preferences.argilla import templates as t
from zephyr_integrations.preferences.argilla.agreement import Level, krippendorff_alpha
from zephyr_integrations.preferences.argilla.pull import (
    AnnotatorResponse,
    PulledDataset,
    PulledRecord,
)
from zephyr_integrations.preferences.records import (
    MAX_RATING,
    MIN_RATING,
    Completion,
    PreferenceRow,
    ScoreScale,
)

PAIRWISE_CODES = {"response_1": 0.0, "tie": 1.0, "response_2": 2.0}


@dataclass
class AggregateReport:
    rows: list[PreferenceRow]
    #: annotator -> {"submitted": n, "draft": n, "discarded": n}
    per_annotator: dict[str, dict[str, int]] = field(default_factory=dict)
    records: int = 0
    records_without_submissions: int = 0
    alpha: float | None = None


def aggregate(dataset: PulledDataset) -> AggregateReport:
    report = AggregateReport(rows=[], records=len(dataset.records))
    all_units: dict[object, dict[str, float]] = {}
    for record in dataset.records:
        for answer in record.answers:
            counts = report.per_annotator.setdefault(
                answer.username, dict.fromkeys(("submitted", "draft", "discarded"), 0)
            )
            counts[answer.status] = counts.get(answer.status, 0) + 1
        submitted = [a for a in record.answers if a.status == "submitted"]
        if not submitted:
            report.records_without_submissions += 1
            continue
        scores, units = _score(dataset, record, submitted)
        for unit, values in units.items():
            all_units[(record.record_id, unit)] = values
        per_prompt = (
            None if dataset.kind == "pairwise" else krippendorff_alpha(units, _level(dataset))
        )
        report.rows.append(_row(record, scores, per_prompt, scale(dataset, len(record.responses))))
    report.alpha = krippendorff_alpha(all_units, _level(dataset))
    return report


def scale(dataset: PulledDataset, answers: int) -> ScoreScale:
    """What an aggregated score of ``dataset`` means, for a record of ``answers`` answers."""
    if dataset.kind == "rating":
        aspects = ", ".join(dataset.aspects)
        return ScoreScale(
            low=float(MIN_RATING),
            high=float(MAX_RATING),
            meaning=f"annotators' {MIN_RATING}-{MAX_RATING} ratings of {aspects}, "
            "averaged over aspects, then over annotators",
        )
    if dataset.kind == "ranking":
        return ScoreScale(
            low=0.0,
            high=float(answers - 1),
            meaning="Borda points from annotators' rankings, averaged over annotators (one "
            f"point per answer ranked below, half per tie; {answers - 1} = ranked first)",
        )
    return ScoreScale(
        low=0.0,
        high=1.0,
        meaning="annotators' majority vote between two answers (1 = preferred, 0.5 = tie)",
    )


def _level(dataset: PulledDataset) -> Level:
    return "nominal" if dataset.kind == "pairwise" else "ordinal"


def _score(
    dataset: PulledDataset, record: PulledRecord, submitted: list[AnnotatorResponse]
) -> tuple[list[float | None], dict[object, dict[str, float]]]:
    n = len(record.responses)
    units: dict[object, dict[str, float]] = {}
    if dataset.kind == "rating":
        per_slot: list[list[float]] = [[] for _ in range(n)]
        for answer in submitted:
            for slot in range(1, n + 1):
                given = [answer.values.get(t.rating_question(a, slot)) for a in dataset.aspects]
                ratings = [float(v) for v in given if isinstance(v, int | float)]
                for aspect, value in zip(dataset.aspects, given, strict=True):
                    if isinstance(value, int | float):
                        units.setdefault((slot, aspect), {})[answer.username] = float(value)
                if ratings:
                    per_slot[slot - 1].append(sum(ratings) / len(ratings))
        return [sum(v) / len(v) if v else None for v in per_slot], units
    if dataset.kind == "ranking":
        points: list[list[float]] = [[] for _ in range(n)]
        for answer in submitted:
            ranks = dict(answer.values.get(t.RANKING) or ())
            for slot in range(1, n + 1):
                rank = ranks.get(t.response_field(slot))
                if rank is None:
                    continue
                units.setdefault(slot, {})[answer.username] = float(rank)
                others = [r for key, r in ranks.items() if key != t.response_field(slot)]
                points[slot - 1].append(
                    sum(1.0 for r in others if r > rank) + sum(0.5 for r in others if r == rank)
                )
        return [sum(v) / len(v) if v else None for v in points], units
    votes = Counter(str(a.values.get(t.PREFERENCE)) for a in submitted if t.PREFERENCE in a.values)
    for answer in submitted:
        label = answer.values.get(t.PREFERENCE)
        if label in PAIRWISE_CODES:
            units.setdefault("preference", {})[answer.username] = PAIRWISE_CODES[label]
    top = votes.most_common()
    winner = top[0][0] if top and (len(top) == 1 or top[0][1] > top[1][1]) else t.TIE
    scores: list[float | None] = {
        "response_1": [1.0, 0.0],
        "response_2": [0.0, 1.0],
    }.get(winner, [0.5, 0.5])  # type: ignore[assignment]
    return scores, units


def _row(
    record: PulledRecord, scores: list[float | None], agreement: float | None, scale: ScoreScale
) -> PreferenceRow:
    slots = sorted(range(len(record.responses)), key=lambda i: record.positions[i])
    return PreferenceRow(
        prompt_id=record.prompt_id,
        prompt=record.messages[-1]["content"],
        messages=list(record.messages),
        completions=[
            Completion(model=record.models[i], response=record.responses[i], score=scores[i])
            for i in slots
        ],
        source="human",
        agreement=agreement,
        scale=scale,
    )
