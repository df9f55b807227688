"""The rows each stage of the preference loop writes, and the one validator of each.

========================  ==========================  ====================  =====================
stage                     row type                    written by            read by
========================  ==========================  ====================  =====================
``candidate``             ``records.CandidateRow``    ``zephyr collect``    ``judge``, ``annotate
                                                                            push``
``judged``                ``CandidateRow`` with       ``zephyr judge``,     ``annotate push``,
                          ``score`` (+ ``ratings``,   ``zephyr import``     ``binarize`` (grouped
                          ``judge``, ``scale``)                             by ``from_candidates``)
``preference``            ``records.PreferenceRow``   ``annotate pull``,    ``binarize``,
                                                      ``zephyr import``     ``export``
``pair``                  ``schema.PAIR_SCHEMA``      ``binarize``,         ``export``, TRL
                          (ultrafeedback_binarized)   ``export``
========================  ==========================  ====================  =====================

Every stage is kept as JSON lines (:mod:`zephyr_integrations.jsonl`). Each validator returns
``None`` for a good row, or one line naming the first field that is wrong; readers prefix it
with the file and line, so a bad row is reported where it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from zephyr_integrations.preferences.records import (
    MAX_RATING,
    MIN_RATING,
    NOT_APPLICABLE,
    parse_scale,
)

Problem = str | None
Validator = Callable[[Any], Problem]


def _number(value: Any) -> bool:
    """A finite JSON number (not a bool, not NaN or infinity)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _turns_problem(name: str, turns: Any, *, required: bool) -> Problem:
    if turns is None and not required:
        return None
    if not isinstance(turns, list) or (required and not turns):
        return f"field {name!r} must be a non-empty list of {{role, content}} strings"
    for index, turn in enumerate(turns):
        if not (
            isinstance(turn, Mapping)
            and isinstance(turn.get("role"), str)
            and isinstance(turn.get("content"), str)
        ):
            return f"field {name!r} turn {index} needs string 'role' and 'content'"
    return None


def _scale_problem(row: Mapping[str, Any]) -> Problem:
    if "scale" in row and parse_scale(row["scale"]) is None:
        return (
            "field 'scale' must be {low, high, meaning}: finite numbers (null: unbounded), "
            "low < high"
        )
    return None


def _strings(row: Mapping[str, Any], names: tuple[str, ...]) -> Problem:
    for name in names:
        if row.get(name) is None:
            return f"missing field {name!r}"
        if not isinstance(row[name], str):
            return f"field {name!r} must be a string"
    return None


def candidate_problem(row: Any) -> Problem:
    """A ``CandidateRow`` from ``collect``: identity, conversation and answer."""
    if not isinstance(row, Mapping):
        return f"expected a candidate row (an object), got {type(row).__name__}"
    problem = _strings(row, ("prompt_id", "prompt", "model", "response"))
    if problem:
        return problem
    sample = row.get("sample")
    if sample is None:
        return "missing field 'sample'"
    if not isinstance(sample, int) or isinstance(sample, bool) or sample < 0:
        return "field 'sample' must be an integer 0 or more"
    return _turns_problem("messages", row.get("messages"), required=True)


def judged_problem(row: Any) -> Problem:
    """A judged ``CandidateRow``: a candidate with ``score`` (a number, or null with a
    ``judge_error``) and/or per-aspect ``ratings`` (1-5 or "N/A"; their mean is the score when
    ``score`` is absent), optional ``judge`` and ``scale``."""
    problem = candidate_problem(row)
    if problem:
        return problem
    if "score" not in row and "ratings" not in row:
        return "no 'score' or 'ratings': not judged (run zephyr judge first)"
    score = row.get("score")
    if score is not None and not _number(score):
        return "field 'score' must be a finite number or null"
    ratings = row.get("ratings")
    if ratings is not None:
        if not isinstance(ratings, Mapping):
            return "field 'ratings' must map aspect -> {rating, rationale}"
        for aspect, rating in ratings.items():
            value = rating.get("rating") if isinstance(rating, Mapping) else None
            if value == NOT_APPLICABLE:
                continue
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or not MIN_RATING <= value <= MAX_RATING
            ):
                return (
                    f"field 'ratings.{aspect}.rating' must be an integer "
                    f"{MIN_RATING}-{MAX_RATING} or {NOT_APPLICABLE!r}"
                )
    if "judge" in row and not isinstance(row["judge"], str):
        return "field 'judge' must be a string"
    return _scale_problem(row)


def preference_problem(row: Any) -> Problem:
    """A ``PreferenceRow``: every answer to one prompt, each with a score or null."""
    if not isinstance(row, Mapping):
        return f"the record is a {type(row).__name__}, not an object"
    problem = _strings(row, ("prompt_id", "prompt"))
    if problem:
        return problem
    problem = _turns_problem("messages", row.get("messages"), required=False)
    if problem:
        return problem
    agreement = row.get("agreement")
    if agreement is not None and not _number(agreement):
        return "field 'agreement' must be a number or null"
    problem = _scale_problem(row)
    if problem:
        return problem
    completions = row.get("completions")
    if not isinstance(completions, list):
        return "field 'completions' must be a list"
    for k, c in enumerate(completions):
        if not isinstance(c, Mapping) or not isinstance(c.get("response"), str):
            return f"field 'completions[{k}].response' must be a string"
        if not isinstance(c.get("model", ""), str):
            return f"field 'completions[{k}].model' must be a string"
        score = c.get("score")
        if score is not None and not _number(score):
            return f"field 'completions[{k}].score' must be a number or null"
    return None


def pair_problem(row: Any) -> Problem:
    """A pair in ultrafeedback_binarized's layout (the columns of ``schema.PAIR_SCHEMA``)."""
    if not isinstance(row, Mapping):
        return f"expected a pair (an object), got {type(row).__name__}"
    problem = _strings(row, ("prompt", "prompt_id"))
    if problem:
        return problem
    for name in ("chosen", "rejected", "messages"):
        problem = _turns_problem(name, row.get(name), required=True)
        if problem:
            return problem
    for name in ("score_chosen", "score_rejected"):
        if not _number(row.get(name)):
            return f"field {name!r} must be a number"
    return None


@dataclass(frozen=True)
class Stage:
    """One row of the table above."""

    name: str
    row_type: str
    check: Validator


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage("candidate", "CandidateRow", candidate_problem),
        Stage("judged", "CandidateRow + score", judged_problem),
        Stage("preference", "PreferenceRow", preference_problem),
        Stage("pair", "ultrafeedback_binarized pair", pair_problem),
    )
}
