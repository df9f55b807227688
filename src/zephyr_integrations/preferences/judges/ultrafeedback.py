"""The ``ultrafeedback`` judge: one answer per call, rated on UltraFeedback's four aspects.

As H4 and Argilla reran UltraFeedback: the judge chat model sees the instruction and one answer
and replies with :class:`~zephyr_integrations.preferences.rubric.UltraFeedbackRatings` (for each
aspect a rationale, then a 1-5 rating; honesty may be "N/A"). The score is the mean of the
ratings, "N/A" skipped, on a 1-5 scale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel

from zephyr_integrations.preferences.judges.replies import (
    chat_model,
    parse_reply,
    replier_name,
    structured,
    with_budget,
)
from zephyr_integrations.preferences.judging import Verdict
from zephyr_integrations.preferences.records import (
    ULTRAFEEDBACK_ASPECTS,
    CandidateRow,
    ScoreScale,
    aspect_mean_scale,
    mean_rating,
)
from zephyr_integrations.preferences.rubric import (
    JUDGE_MAX_TOKENS,
    UltraFeedbackRatings,
    judge_messages,
)


class UltraFeedbackJudge:
    """Rates each answer on its own: one structured call per answer.

    ``model`` is a LangChain chat model with ``with_structured_output`` (or a
    ``KIND:TARGET[,key=value...]`` spec); ``label`` names it in the rows, else the name the
    model gives in its first reply does.
    """

    compares = False
    prompts_per_call = 1

    def __init__(self, model: BaseChatModel | str, *, label: str | None = None) -> None:
        self.model, spec_label = chat_model(model)
        self.label = label or spec_label
        self._replier: str | None = None
        self._structured = structured(with_judge_budget(self.model), UltraFeedbackRatings)

    @property
    def name(self) -> str:
        return self.label or self._replier or type(self.model).__name__

    @property
    def scale(self) -> ScoreScale:
        return aspect_mean_scale(ULTRAFEEDBACK_ASPECTS, [self.name])

    async def ajudge(self, prompts: Sequence[Sequence[CandidateRow]]) -> list[list[Verdict]]:
        return list(
            await asyncio.gather(
                *(asyncio.gather(*(self._one(row) for row in rows)) for rows in prompts)
            )
        )

    async def _one(self, row: CandidateRow) -> Verdict:
        reply: Any = await self._structured.ainvoke(
            judge_messages(row["messages"], row["response"])
        )
        if self._replier is None:
            self._replier = replier_name(reply, self.model)
        ratings, _, reason = parse_reply(reply, UltraFeedbackRatings)
        if ratings is None:
            return Verdict(None, error=f"judge {self.name}: the reply did not parse: {reason}")
        stored = ratings.ratings()
        return Verdict(mean_rating(stored), stored)


def with_judge_budget(model: BaseChatModel) -> BaseChatModel:
    """A ChatZephyr judge with no token budget of its own gets the one the rating schema needs
    (:data:`~zephyr_integrations.preferences.rubric.JUDGE_MAX_TOKENS`); any other model, or one
    with a budget, is used as given."""
    return with_budget(model, JUDGE_MAX_TOKENS)
