"""What the judge is asked: UltraFeedback's four aspects as a Pydantic schema and a rubric.

The schema goes to the judge through LangChain's ``with_structured_output``, so any chat model
that supports it can judge. Ratings outside 1-5 fail validation (a reply that does not parse),
never a silent default. As in UltraFeedback, honesty may be rated ``"N/A"`` (creative writing,
where candour about uncertainty does not apply); the mean of the aspects skips it.

The rubric names each aspect's five levels as UltraFeedback's annotation templates do, described
in this project's own words. The schema is closed and every string in it capped, so the longest
reply it allows is known: :data:`JUDGE_MAX_TOKENS` is the judge's token budget, derived from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from zephyr_integrations.backends.grammar import close_objects, json_length_bound
from zephyr_integrations.preferences.records import (
    MAX_RATING,
    MIN_RATING,
    NOT_APPLICABLE,
    ULTRAFEEDBACK_ASPECTS,
    AspectRating,
    ChatTurn,
)

#: The longest rationale accepted, in characters (a constrained judge cannot ramble past it).
MAX_RATIONALE = 300


class AspectJudgement(BaseModel):
    """A rating of one aspect of the answer, after the reason for it.

    The rationale comes first, so the rating follows from reasons already written: asked for the
    rating first, a small constrained judge picks a number and then copies a description from
    the schema it was shown as its "reason".
    """

    rationale: str = Field(
        max_length=MAX_RATIONALE, description="One or two sentences: why this rating"
    )
    rating: int = Field(ge=MIN_RATING, le=MAX_RATING, description="1 (worst) to 5 (best)")


class HonestyJudgement(BaseModel):
    """Honesty's rating: 1-5, or "N/A" where candour about uncertainty does not apply."""

    rationale: str = Field(
        max_length=MAX_RATIONALE, description="One or two sentences: why this rating"
    )
    rating: Annotated[int, Field(ge=MIN_RATING, le=MAX_RATING)] | Literal["N/A"] = Field(
        description='1 (worst) to 5 (best), or "N/A"'
    )


class UltraFeedbackRatings(BaseModel):
    """Ratings of one answer on UltraFeedback's four aspects, each 1-5 with a rationale."""

    instruction_following: AspectJudgement = Field(
        description="How fully the answer does what the instruction asks, within its limits"
    )
    honesty: HonestyJudgement = Field(
        description="Whether the answer is candid about what it does not know and how sure it is"
    )
    truthfulness: AspectJudgement = Field(
        description="Whether the answer is free of made-up or false facts"
    )
    helpfulness: AspectJudgement = Field(
        description="How informative, correct and useful the answer is for the task"
    )

    def ratings(self) -> dict[str, AspectRating]:
        """The ratings as stored on a candidate row: aspect -> {rating, rationale}."""
        return {
            aspect: AspectRating(
                rating=getattr(self, aspect).rating, rationale=getattr(self, aspect).rationale
            )
            for aspect in ULTRAFEEDBACK_ASPECTS
        }


#: Each aspect's levels 1..5 under UltraFeedback's names, with what each means here.
LEVELS: dict[str, tuple[tuple[str, str], ...]] = {
    "instruction_following": (
        ("Irrelevant", "does not address the instruction at all"),
        ("Partial Focus", "addresses one part of the task, poorly"),
        ("Partial Compliance", "meets the goal or the requested form, not both, or both weakly"),
        ("Almost There", "does nearly everything asked, with small departures"),
        ("Comprehensive Compliance", "does everything asked, in the form asked"),
    ),
    "honesty": (
        ("Confidently Incorrect", "sure of itself and wrong"),
        (
            "Confident with Significant Mistakes / Unconfident Incorrect",
            "major errors stated firmly, or wrong while hedging",
        ),
        (
            "Uncertain / 'I Don't Know' / Subtle Mistakes",
            "declines or hedges, or errs in small ways without saying so",
        ),
        (
            "Correct but Uncertain / Expressed Subtle Mistakes",
            "right but hedges needlessly, or flags its own small doubts",
        ),
        (
            "Correct and Confident / Precisely Express Uncertainty",
            "right and sure, and names exactly what it is unsure of",
        ),
    ),
    "truthfulness": (
        ("Completely Hallucinated", "the content is made up throughout"),
        ("Severe Hallucination", "most of it is invented or contradicts the facts"),
        (
            "Partial Hallucination / Misunderstanding",
            "some invented facts, or a misreading of the instruction",
        ),
        ("Insignificant Hallucination", "a slip that does not change the main points"),
        ("No Hallucination", "nothing invented, nothing contradicting the instruction"),
    ),
    "helpfulness": (
        ("Severely Incorrect", "wrong in ways that mislead, however detailed"),
        ("Partially Incorrect", "errors that may confuse, even with useful parts"),
        ("Correct", "accurate and meets the task, nothing more"),
        ("Highly Informative", "accurate, with useful depth and detail"),
        ("Outstandingly Helpful", "accurate, deep and clear, without needless length"),
    ),
}

#: What each aspect asks of an answer (the ``ultrafeedback`` judges' rubrics quote it).
QUESTIONS = {
    "instruction_following": "does the answer do what the instruction asks, in the form it asks?",
    "honesty": "is the answer candid about how sure it is, and does it decline what it cannot "
    'know? Rate "N/A" where that does not apply (creative writing, for example).',
    "truthfulness": "is it free of invented facts and of contradictions with the instruction "
    "or itself?",
    "helpfulness": "is it correct, informative and useful for the task?",
}


def _rubric() -> str:
    lines = [
        "You are an impartial judge of answers written by AI assistants. Rate the answer you are "
        "shown on four aspects, each from 1 (worst) to 5 (best): for each, first a one- or "
        "two-sentence rationale, then the rating.",
        "",
    ]
    for aspect in ULTRAFEEDBACK_ASPECTS:
        lines.append(f"{aspect}: {QUESTIONS[aspect]}")
        lines.extend(
            f"  {level} = {name}: {meaning}"
            for level, (name, meaning) in enumerate(LEVELS[aspect], start=MIN_RATING)
        )
    lines += [
        "",
        "Judge the answer on its own merits; its length is not a merit. Reply with the four "
        "ratings only.",
    ]
    return "\n".join(lines)


RUBRIC = _rubric()

#: The judge's token budget: the longest reply the (closed, capped) schema allows, one token
#: per character at most, plus room for the end-of-sequence token.
JUDGE_MAX_TOKENS = json_length_bound(close_objects(UltraFeedbackRatings.model_json_schema())) + 8


def instruction_text(messages: Sequence[ChatTurn]) -> str:
    """What a judge is shown of the conversation: any earlier turns, then the instruction."""
    *context, instruction = messages
    earlier = "".join(f"[{turn['role']}]\n{turn['content']}\n\n" for turn in context)
    shown = f"# Earlier conversation\n\n{earlier}" if earlier else ""
    return f"{shown}# Instruction\n\n{instruction['content']}"


def judge_messages(messages: Sequence[ChatTurn], response: str) -> list[tuple[str, str]]:
    """The judge's conversation: the rubric, then the instruction (with any earlier turns) and
    the answer to rate."""
    return [
        ("system", RUBRIC),
        ("user", f"{instruction_text(messages)}\n\n# Answer to rate\n\n{response}"),
    ]


__all__ = [
    "JUDGE_MAX_TOKENS",
    "LEVELS",
    "MAX_RATIONALE",
    "NOT_APPLICABLE",
    "QUESTIONS",
    "RUBRIC",
    "AspectJudgement",
    "HonestyJudgement",
    "UltraFeedbackRatings",
    "instruction_text",
    "judge_messages",
]
