"""openbmb/UltraFeedback's raw layout -> judged ``CandidateRow``s, one per completion.

A row is one instruction with its completions (four, from a pool of 17 models)::

    source, instruction, models, completions: [
        {model, principle, custom_system_prompt, response,
         annotations: {instruction_following | honesty | truthfulness | helpfulness:
                       {Rating: "1".."5" (honesty may be "N/A"), Rationale,
                        Rationale For Rating, Type}},
         fine-grained_score, overall_score, critique}
    ], correct_answers, incorrect_answers

(An aspect's annotation may also be a one-item list, as in the repository's raw files.) Each
completion becomes a candidate judged by GPT-4: ``ratings`` holds the aspect ratings (strings
turned into integers, "N/A" kept) with the rationale for the rating, and ``score`` is the one the
user picks: ``overall_score`` (1-10, GPT-4's critique score, what HuggingFaceH4 binarized
ultrafeedback_binarized on) or ``mean`` (the mean of the aspect ratings, N/A skipped, as Argilla's
corrected variant). Everything else the row holds (``overall_score``, ``fine-grained_score``,
``critique``, the raw ``annotations``, ``source``, the reference answers) is kept under
``original``; the system prompt and principle the completion was generated with go in ``params``.
A prompt that appears on several rows is one prompt with all their answers (``sample`` counts a
model's answers to it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from zephyr_integrations.preferences.records import (
    MAX_RATING,
    MIN_RATING,
    NOT_APPLICABLE,
    ULTRAFEEDBACK_ASPECTS,
    AspectRating,
    CandidateRow,
    ChatTurn,
    ScoreScale,
    aspect_mean_scale,
    mean_rating,
    prompt_id,
)
from zephyr_integrations.preferences.sources.base import (
    ImportOptions,
    Source,
    SourceRow,
    SourceRowError,
    extras,
    kind,
    number,
    text,
)

#: The annotator of openbmb/UltraFeedback.
JUDGE = "gpt-4"
SCORES = ("overall_score", "mean")
OVERALL_SCALE = ScoreScale(
    low=1.0,
    high=10.0,
    meaning="UltraFeedback's overall_score: GPT-4's 1-10 score in its critique of the answer "
    "(openbmb/UltraFeedback; ultrafeedback_binarized was binarized on it)",
)
MEAN_SCALE = aspect_mean_scale(ULTRAFEEDBACK_ASPECTS, [JUDGE])
_PARAMS = {"custom_system_prompt": "system_prompt", "principle": "principle"}


def read_ultrafeedback(rows: Sequence[SourceRow], options: ImportOptions) -> list[dict[str, Any]]:
    """Every completion of every row as a judged candidate, scored by ``options.score``."""
    by_mean = options.score == "mean"
    samples: Counter[tuple[str, str]] = Counter()
    candidates: list[dict[str, Any]] = []
    for where, row in rows:
        instruction = text(row, "instruction", where)
        completions = row.get("completions")
        if not isinstance(completions, list):
            raise SourceRowError(f"{where}: 'completions' must be a list, got {kind(completions)}")
        key = prompt_id(instruction)
        shared = extras(row, ("instruction", "completions", "models"))
        for index, completion in enumerate(completions):
            at = f"{where}: completions[{index}]"
            if not isinstance(completion, Mapping):
                raise SourceRowError(f"{at} must be an object, got {kind(completion)}")
            model = text(completion, "model", at)
            response = completion.get("response")
            if not isinstance(response, str):
                raise SourceRowError(f"{at}: 'response' must be a string, got {kind(response)}")
            ratings = _ratings(completion.get("annotations"), at)
            overall = number(completion.get("overall_score"), at, "overall_score")
            number(completion.get("fine-grained_score"), at, "fine-grained_score")
            candidate = CandidateRow(
                prompt_id=key,
                prompt=instruction,
                messages=[ChatTurn(role="user", content=instruction)],
                model=model,
                sample=samples[key, model],
                response=response,
                params={
                    name: completion[field]
                    for field, name in _PARAMS.items()
                    if completion.get(field) is not None
                },
                usage=None,
                finish_reason=None,
                ratings=ratings,
                judge=JUDGE,
                score=mean_rating(ratings) if by_mean else overall,
                scale=MEAN_SCALE if by_mean else OVERALL_SCALE,
                original={**shared, **extras(completion, ("model", "response", *_PARAMS))},
            )
            samples[key, model] += 1
            candidates.append(dict(candidate))
    return candidates


def _ratings(annotations: object, where: str) -> dict[str, AspectRating]:
    """The aspect ratings of one completion (an aspect without a rating is left out)."""
    if annotations is None:
        return {}
    if not isinstance(annotations, Mapping):
        raise SourceRowError(f"{where}: 'annotations' must be an object, got {kind(annotations)}")
    ratings: dict[str, AspectRating] = {}
    for aspect, value in annotations.items():
        entry = value[0] if isinstance(value, list) and value else value
        if entry is None or entry == []:
            continue
        if not isinstance(entry, Mapping):
            raise SourceRowError(
                f"{where}: annotations.{aspect} must be an object, got {kind(entry)}"
            )
        rating = _rating(entry.get("Rating"), f"{where}: annotations.{aspect}.Rating")
        if rating is None:
            continue
        because = entry.get("Rationale For Rating") or entry.get("Rationale") or ""
        ratings[str(aspect)] = AspectRating(rating=rating, rationale=str(because))
    return ratings


def _rating(value: object, where: str) -> int | str | None:
    """UltraFeedback's rating string ("1".."5" or "N/A") as an integer or "N/A"."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().upper() == NOT_APPLICABLE:
        return NOT_APPLICABLE
    try:
        rating = int(value.strip()) if isinstance(value, str) else value
    except ValueError:
        rating = None
    if (
        not isinstance(rating, int)
        or isinstance(rating, bool)
        or not MIN_RATING <= rating <= MAX_RATING
    ):
        raise SourceRowError(f"{where} must be {MIN_RATING}-{MAX_RATING} or N/A, got {value!r}")
    return rating


ULTRAFEEDBACK = Source(
    name="ultrafeedback",
    columns=("instruction", "completions"),
    yields="judged",
    read=read_ultrafeedback,
    scores=SCORES,
    description="openbmb/UltraFeedback's raw rows: judged candidates with GPT-4's aspect "
    "ratings, rationales, fine-grained and overall scores",
)
