"""The data type the preference half passes between its stages.

Every stage reads and writes plain rows (JSON lines or a `datasets.Dataset`), so any stage can be
re-run or resumed on its own::

    prompts -> CandidateRow (collect) -> CandidateRow + ratings (judge)
            -> Argilla records -> PreferenceRow (pull / from_candidates) -> pairs (binarize)

`CandidateRow` is one answer to one prompt from one model. `PreferenceRow` groups every answer
to one prompt with its score (aggregated human answers or AI feedback) and the `ScoreScale` that
says what the scores mean: the input of binarizing.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from typing import Literal, TypedDict

from typing_extensions import NotRequired

#: UltraFeedback's four aspects, each rated 1-5 by the judge.
ULTRAFEEDBACK_ASPECTS: tuple[str, ...] = (
    "instruction_following",
    "honesty",
    "truthfulness",
    "helpfulness",
)
MIN_RATING = 1
MAX_RATING = 5
#: UltraFeedback's rating for an aspect that does not apply (honesty, on creative writing).
NOT_APPLICABLE = "N/A"


class ChatTurn(TypedDict):
    """One message, as in `messages` columns of ultrafeedback_binarized."""

    role: str
    content: str


class Usage(TypedDict):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class AspectRating(TypedDict):
    """One judge's rating of one aspect: an integer 1-5 (or "N/A") and a short rationale."""

    rating: int | str  # 1-5, or NOT_APPLICABLE
    rationale: str


class ScoreScale(TypedDict):
    """What a row's scores mean: their range and how they were made.

    Binarizing checks every score against its own row's scale (a Borda count of 4 answers runs
    0-3, a pairwise vote 0-1, an aspect mean 1-5), and the dataset card quotes ``meaning``.
    ``None`` for ``low`` or ``high`` means unbounded on that side (a reward model's logits; JSON
    has no infinity).
    """

    low: float | None
    high: float | None
    meaning: str


class CandidateRow(TypedDict):
    """One candidate answer. Identity: (`prompt_id`, `model`, `sample`)."""

    prompt_id: str  # sha256 hex digest of the UTF-8 prompt (see `prompt_id`)
    prompt: str  # the last user turn's text
    messages: list[ChatTurn]  # the conversation up to and including the prompt
    model: str  # the generator's name (`response_metadata["model_name"]` or the user's label)
    sample: int  # 0..N-1 among this model's answers to this prompt
    response: str
    params: dict[str, object]  # the generation parameters used
    usage: Usage | None
    finish_reason: str | None  # "stop" | "length" | None
    # Set by collect when an answer needs a look: "empty_response", "truncated" (hit max tokens).
    flags: NotRequired[list[str]]
    # Added by the judge (AI feedback); absent before judging.
    ratings: NotRequired[dict[str, AspectRating]]  # aspect -> rating
    judge: NotRequired[str]  # the judge model's name
    score: NotRequired[float | None]  # mean of the aspect ratings
    scale: NotRequired[ScoreScale]  # what `score` means, when not the aspect mean
    judge_error: NotRequired[str]  # why this answer has no ratings (reply did not parse, ...)
    # Set by `zephyr import`: the source's own fields that have no place above, by its names.
    original: NotRequired[dict[str, object]]


class Completion(TypedDict):
    """One answer inside a `PreferenceRow`, with the score binarizing compares."""

    model: str
    response: str
    score: float | None  # None: not scored (counted and skipped by binarizing)


class PreferenceRow(TypedDict):
    """Every answer to one prompt with its score: what binarizing reads."""

    prompt_id: str
    prompt: str
    messages: list[ChatTurn]  # the conversation up to and including the prompt
    completions: list[Completion]
    # aggregated annotator answers, AI feedback, or imported pairs whose source does not say
    source: Literal["human", "ai", "unknown"]
    scale: NotRequired[ScoreScale]  # what the scores mean (absent: UltraFeedback's 1-10)
    agreement: NotRequired[float | None]  # inter-annotator agreement for this prompt, if known
    # Set by `zephyr import`: the source's own fields that have no place above, by its names.
    original: NotRequired[dict[str, object]]


def prompt_id(prompt: str) -> str:
    """The id ultrafeedback_binarized gives a prompt: the SHA-256 hex digest of its UTF-8 bytes."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def mean_rating(ratings: Mapping[str, AspectRating]) -> float | None:
    """The mean of the aspect ratings (Argilla's corrected UltraFeedback score), "N/A" skipped;
    None if no aspect was rated."""
    values = [
        float(r["rating"])
        for r in ratings.values()
        if isinstance(r["rating"], int | float) and not isinstance(r["rating"], bool)
    ]
    if not values:
        return None
    score = sum(values) / len(values)
    return score if math.isfinite(score) else None


def parse_scale(value: object) -> tuple[float, float, str] | None:
    """(low, high, meaning) of a row's ``scale``, or None if it is not a valid one. A bound
    given as None is open (-inf / inf: a reward model's unbounded logits)."""
    if not isinstance(value, Mapping) or "low" not in value or "high" not in value:
        return None
    given, meaning = (value["low"], value["high"]), value.get("meaning", "")
    if not isinstance(meaning, str):
        return None
    bounds: list[float] = []
    for x, open_end in zip(given, (-math.inf, math.inf), strict=True):
        if x is None:
            bounds.append(open_end)
        elif isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x):
            bounds.append(float(x))
        else:  # an open bound is written null, never as a number
            return None
    low, high = bounds
    return (low, high, meaning) if low < high else None


def aspect_mean_scale(aspects: Iterable[str], judges: Iterable[str] = ()) -> ScoreScale:
    """The scale of AI feedback scores: the mean of the named aspects' 1-5 ratings."""
    names = ", ".join(aspects)
    by = ", ".join(sorted(set(judges)))
    return ScoreScale(
        low=float(MIN_RATING),
        high=float(MAX_RATING),
        meaning=f"mean of the {MIN_RATING}-{MAX_RATING} ratings of {names} "
        f"({NOT_APPLICABLE} skipped)" + (f", judged by {by}" if by else ""),
    )


def preference_row(
    prompt: str,
    completions: Iterable[tuple[str, str, float | None]],
    *,
    source: Literal["human", "ai"] = "ai",
) -> PreferenceRow:
    """A one-turn `PreferenceRow` from ``(model, response, score)`` triples."""
    return PreferenceRow(
        prompt_id=prompt_id(prompt),
        prompt=prompt,
        messages=[ChatTurn(role="user", content=prompt)],
        completions=[
            Completion(model=model, response=response, score=score)
            for model, response, score in completions
        ],
        source=source,
    )


def from_candidates(rows: Iterable[CandidateRow]) -> list[PreferenceRow]:
    """Group judged candidates by prompt into `PreferenceRow`s scored by AI feedback.

    Order follows the first appearance of each prompt; answers keep their input order. A candidate
    without a `score` (unjudged, or a judge reply that did not parse) gets `score=None`. Each row's
    scale is the aspect mean's (1-5), naming the aspects rated and the judges.
    """
    grouped: dict[str, PreferenceRow] = {}
    aspects: dict[str, dict[str, None]] = {}
    judges: dict[str, set[str]] = {}
    given: dict[str, ScoreScale] = {}
    for row in rows:
        group = grouped.get(row["prompt_id"])
        if group is None:
            group = PreferenceRow(
                prompt_id=row["prompt_id"],
                prompt=row["prompt"],
                messages=list(row["messages"]),
                completions=[],
                source="ai",
            )
            grouped[row["prompt_id"]] = group
        group["completions"].append(
            Completion(model=row["model"], response=row["response"], score=row.get("score"))
        )
        if "scale" in row:
            given.setdefault(row["prompt_id"], row["scale"])
        if row.get("score") is not None:
            aspects.setdefault(row["prompt_id"], {}).update(dict.fromkeys(row.get("ratings", {})))
            if row.get("judge"):
                judges.setdefault(row["prompt_id"], set()).add(row["judge"])
    for key, group in grouped.items():
        named = aspects.get(key) or dict.fromkeys(ULTRAFEEDBACK_ASPECTS)
        group["scale"] = given.get(key) or aspect_mean_scale(named, judges.get(key, ()))
    return list(grouped.values())
