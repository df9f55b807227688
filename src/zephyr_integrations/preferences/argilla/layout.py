"""CandidateRows -> Argilla record payloads: grouping, deterministic ids, shuffling, suggestions.

- A record's id is the SHA-256 of its conversation and its (sorted) responses, so logging the same
  data twice updates the same records instead of adding duplicates.
- The answer order is a permutation seeded by (template seed, record id): deterministic, and
  different per record. `model_i` / `position_i` metadata (hidden from annotators) keep the
  mapping back to each answer's model and input position.
- AI feedback (`ratings` and/or `score`, with `judge`, on candidates) becomes suggestions whose
  agent is the judge: a score-only judge (a reward model) suggests the ranking, the pairwise
  preference and the overall rating; per-aspect ratings suggest their own questions.

Everything is validated before anything is sent: a bad row raises `RecordError` naming the row
(its index and prompt_id) and the field, and nothing is logged.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from zephyr_integrations.preferences.argilla import templates as t
from zephyr_integrations.preferences.records import (
    MAX_RATING,
    MIN_RATING,
    CandidateRow,
    ChatTurn,
    mean_rating,
)
from zephyr_integrations.preferences.stages import candidate_problem, judged_problem


class RecordError(ValueError):
    """A candidate row or group cannot become a record (names the row and the field)."""


@dataclass(frozen=True)
class PromptGroup:
    """All candidates for one prompt, in input order."""

    prompt_id: str
    messages: tuple[ChatTurn, ...]
    candidates: tuple[CandidateRow, ...]


def group_candidates(rows: Iterable[CandidateRow]) -> list[PromptGroup]:
    """Group rows by `prompt_id` (first-appearance order), checking every required field."""
    groups: dict[str, list[CandidateRow]] = {}
    for index, row in enumerate(rows):
        _check_row(index, row)
        groups.setdefault(row["prompt_id"], []).append(row)
    return [
        PromptGroup(prompt_id=pid, messages=tuple(rows_[0]["messages"]), candidates=tuple(rows_))
        for pid, rows_ in groups.items()
    ]


def _check_row(index: int, row: Any) -> None:
    """A candidate row, judged or not (a judged one's ratings become suggestions)."""
    judged = isinstance(row, dict) and ("score" in row or "ratings" in row)
    problem = (judged_problem if judged else candidate_problem)(row)
    if problem:
        pid = row.get("prompt_id", "?") if isinstance(row, dict) else "?"
        raise RecordError(f"candidate row {index} (prompt_id {pid}): {problem}")


def record_id(messages: Sequence[ChatTurn], responses: Iterable[str]) -> str:
    """SHA-256 hex of the conversation and the sorted responses (order-independent)."""
    payload = json.dumps(
        {"messages": [[m["role"], m["content"]] for m in messages], "responses": sorted(responses)},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def shuffled_order(rid: str, n: int, seed: int) -> list[int]:
    """The input positions shown in slots 1..n (a seeded, per-record permutation)."""
    order = list(range(n))
    digest = hashlib.sha256(f"{seed}:{rid}".encode()).digest()
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    return order


def build_payload(template: t._Template, group: PromptGroup) -> dict[str, Any]:
    """One record as the bulk API takes it; suggestions carry question *names* (ids come later)."""
    n = template.n_responses
    if len(group.candidates) != n:
        raise RecordError(
            f"prompt_id {group.prompt_id}: {len(group.candidates)} responses, "
            f"but the {template.kind} template shows {n}"  # type: ignore[attr-defined]
        )
    responses = [c["response"] for c in group.candidates]
    rid = record_id(group.messages, responses)
    order = shuffled_order(rid, n, template.shuffle_seed)
    fields: dict[str, Any] = {t.CONVERSATION: [dict(m) for m in group.messages]}
    metadata: dict[str, Any] = {t.PROMPT_ID: group.prompt_id}
    for slot, position in enumerate(order, start=1):
        fields[t.response_field(slot)] = group.candidates[position]["response"]
        metadata[t.model_key(slot)] = group.candidates[position]["model"]
        metadata[t.position_key(slot)] = position
    return {
        "external_id": rid,
        "fields": fields,
        "metadata": metadata,
        "suggestions": _suggestions(template, group, order),
    }


def _suggestions(
    template: t._Template, group: PromptGroup, order: list[int]
) -> list[dict[str, Any]]:
    slots = [group.candidates[p] for p in order]
    scores = [_score(c) for c in slots]
    if not any(c.get("ratings") for c in slots) and all(s is None for s in scores):
        return []
    judges = sorted({c["judge"] for c in slots if c.get("judge")})
    agent = ", ".join(judges) or "ai-feedback"
    out: list[dict[str, Any]] = []
    if isinstance(template, t.RatingTemplate):
        overall = _overall_ratings(slots, scores)
        for slot, cand in enumerate(slots, start=1):
            ratings = cand.get("ratings") or {}
            for aspect in template.aspects:
                if aspect == t.OVERALL and overall[slot - 1] is not None:
                    value = overall[slot - 1]
                else:
                    given = ratings[aspect]["rating"] if aspect in ratings else None
                    value = given if isinstance(given, int) else None  # "N/A": no suggestion
                if value is not None:
                    question = t.rating_question(aspect, slot)
                    out.append(
                        {
                            "question_name": question,
                            "value": value,
                            "agent": cand.get("judge", agent),
                        }
                    )
    elif all(s is not None for s in scores):
        if isinstance(template, t.RankingTemplate):
            ranked = sorted(range(len(slots)), key=lambda i: -scores[i])  # type: ignore[operator]
            value_list = [{"value": t.response_field(i + 1)} for i in ranked]
            out.append({"question_name": t.RANKING, "value": value_list, "agent": agent})
        elif isinstance(template, t.PairwiseTemplate):
            a, b = scores
            label = t.TIE if a == b else ("response_1" if a > b else "response_2")  # type: ignore[operator]
            out.append({"question_name": t.PREFERENCE, "value": label, "agent": agent})
    return out


def _score(candidate: CandidateRow) -> float | None:
    if candidate.get("score") is not None:
        return candidate["score"]
    return mean_rating(candidate.get("ratings") or {})


def _overall_ratings(slots: Sequence[CandidateRow], scores: list[float | None]) -> list[int | None]:
    """Each answer's score as a 1-5 overall rating. A score on the aspect mean's 1-5 (a row
    without a ``scale``) is rounded; one on another bounded scale is placed on 1-5 linearly; an
    unbounded one (a reward model's) linearly between the record's lowest (1) and highest (5)."""
    scored = [s for s in scores if s is not None]
    placed: list[int | None] = []
    for cand, score in zip(slots, scores, strict=True):
        scale: Any = cand.get("scale")
        low: float | None = MIN_RATING
        high: float | None = MAX_RATING
        if isinstance(scale, dict):
            low, high = scale.get("low"), scale.get("high")
        if (low is None or high is None) and scored:
            low, high = min(scored), max(scored)
        if score is None or low is None or high is None:
            placed.append(None)
            continue
        if high > low:
            value = round(MIN_RATING + (score - low) / (high - low) * (MAX_RATING - MIN_RATING))
        else:  # every answer scored the same: the middle
            value = round((MIN_RATING + MAX_RATING) / 2)
        placed.append(min(MAX_RATING, max(MIN_RATING, value)))
    return placed
