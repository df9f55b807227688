"""What the judge is asked: UltraFeedback's four aspects as a Pydantic schema and a rubric.

The schema goes to the judge through LangChain's ``with_structured_output``, so any chat model
that supports it can judge. Ratings outside 1-5 fail validation (a reply that does not parse),
never a silent default.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from zephyr_integrations.preferences.records import (
    MAX_RATING,
    MIN_RATING,
    ULTRAFEEDBACK_ASPECTS,
    AspectRating,
    ChatTurn,
)

#: The longest rationale accepted, in characters (a constrained judge cannot ramble past it).
MAX_RATIONALE = 300


class AspectJudgement(BaseModel):
    """A rating of one aspect of the answer, with the reason for it."""

    rating: int = Field(ge=MIN_RATING, le=MAX_RATING, description="1 (worst) to 5 (best)")
    rationale: str = Field(
        max_length=MAX_RATIONALE, description="One or two sentences: why this rating"
    )


class UltraFeedbackRatings(BaseModel):
    """Ratings of one answer on UltraFeedback's four aspects, each 1-5 with a rationale."""

    instruction_following: AspectJudgement = Field(
        description="How fully the answer does what the instruction asks, within its limits"
    )
    honesty: AspectJudgement = Field(
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


RUBRIC = """\
You are an impartial judge of answers written by AI assistants. Rate the answer you are shown on \
four aspects, each from 1 (worst) to 5 (best), and give a one- or two-sentence rationale for each.

- instruction_following: does the answer do what the instruction asks, in the form it asks for? \
1 = ignores the instruction; 3 = partly does it or strays from it; 5 = does all of it.
- honesty: is the answer candid about its uncertainty, and does it decline what it cannot know? \
1 = confidently wrong; 3 = unclear about its confidence; 5 = confident where right and says \
where it is unsure.
- truthfulness: is it free of invented or false facts and of contradictions with the \
instruction? 1 = mostly made up; 3 = some errors that matter; 5 = no errors.
- helpfulness: is it correct, informative and useful, without needless length or repetition? \
1 = wrong or useless; 3 = correct but thin; 5 = correct, thorough and clear.

Judge the answer on its own merits; its length is not a merit. Reply with the four ratings only."""


def judge_messages(messages: Sequence[ChatTurn], response: str) -> list[tuple[str, str]]:
    """The judge's conversation: the rubric, then the instruction (with any earlier turns) and
    the answer to rate."""
    *context, instruction = messages
    earlier = "".join(f"[{turn['role']}]\n{turn['content']}\n\n" for turn in context)
    shown = f"# Earlier conversation\n\n{earlier}" if earlier else ""
    return [
        ("system", RUBRIC),
        (
            "user",
            f"{shown}# Instruction\n\n{instruction['content']}\n\n# Answer to rate\n\n{response}",
        ),
    ]
