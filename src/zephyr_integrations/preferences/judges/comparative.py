"""The ``ultrafeedback-comparative`` judge: every answer of a prompt in one call per aspect.

This is how UltraFeedback itself was annotated: the judge sees the instruction with all its
answers side by side and rates them on one aspect per call (four calls per prompt), so each
rating is made knowing the alternatives. The answers are shown in a seeded random order, drawn
anew for each prompt and aspect so no answer keeps one position, and the ratings are mapped back
to the answers they rate. The reply schema asks for exactly as many ratings (each a rationale,
then a 1-5 rating; honesty may be "N/A") as answers shown, and the token budget follows from it.
The score is the mean of an answer's four ratings, "N/A" skipped.

A reply that rates a different number of answers cannot be mapped back: every answer of that
prompt gets a ``judge_error`` naming the prompt, the aspect and the count, and none is scored.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Sequence
from functools import cache
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable
from pydantic import BaseModel, Field, ValidationError, create_model

from zephyr_integrations.backends.grammar import close_objects, json_length_bound
from zephyr_integrations.preferences.judges.replies import (
    chat_model,
    parse_reply,
    replier_name,
    structured,
    with_budget,
)
from zephyr_integrations.preferences.judging import Verdict
from zephyr_integrations.preferences.records import (
    MAX_RATING,
    MIN_RATING,
    ULTRAFEEDBACK_ASPECTS,
    AspectRating,
    CandidateRow,
    ChatTurn,
    ScoreScale,
    aspect_mean_scale,
    mean_rating,
)
from zephyr_integrations.preferences.rubric import (
    LEVELS,
    QUESTIONS,
    AspectJudgement,
    HonestyJudgement,
    instruction_text,
)

T = TypeVar("T")

#: The one change from the aspect mean's own description: how the ratings were made.
SIDE_BY_SIDE = "each aspect rated with every answer to the prompt side by side"


@cache
def ratings_schema(aspect: str, count: int) -> type[BaseModel]:
    """The reply to one aspect's question about ``count`` answers: exactly ``count`` ratings,
    in the order the answers were shown."""
    item: type[BaseModel] = HonestyJudgement if aspect == "honesty" else AspectJudgement
    title = "".join(part.capitalize() for part in aspect.split("_"))
    field = Field(
        min_length=count,
        max_length=count,
        description=f"Exactly {count} ratings, one per answer, answers 1 to {count} in order",
    )
    schema: type[BaseModel] = create_model(
        f"{title}Ratings",
        __doc__=f"Ratings of {count} answers on {aspect}, each after its rationale.",
        ratings=(list[item], field),  # type: ignore[valid-type]
    )
    return schema


@cache
def comparative_max_tokens(count: int) -> int:
    """The token budget for rating ``count`` answers on any one aspect: the longest reply the
    (closed, capped) schemas allow, one token per character at most, plus the end token."""
    return (
        max(
            json_length_bound(close_objects(ratings_schema(aspect, count).model_json_schema()))
            for aspect in ULTRAFEEDBACK_ASPECTS
        )
        + 8
    )


def comparative_messages(
    aspect: str, messages: Sequence[ChatTurn], responses: Sequence[str]
) -> list[tuple[str, str]]:
    """The judge's conversation for one aspect: its rubric, then the instruction (with any
    earlier turns) and the answers, numbered in the order shown."""
    count = len(responses)
    levels = "\n".join(
        f"  {level} = {name}: {meaning}"
        for level, (name, meaning) in enumerate(LEVELS[aspect], start=MIN_RATING)
    )
    rubric = (
        "You are an impartial judge of answers written by AI assistants. You are shown one "
        f"instruction and {count} answers to it. Rate every answer on {aspect} from "
        f"{MIN_RATING} (worst) to {MAX_RATING} (best): {QUESTIONS[aspect]}\n{levels}\n\n"
        "Compare the answers with each other, but rate each on its own merits; its length is "
        f"not a merit. Reply with exactly {count} ratings, one per answer in the order shown: "
        "for each, first a one- or two-sentence rationale, then the rating."
    )
    answers = "".join(
        f"\n\n## Answer {number}\n\n{response}" for number, response in enumerate(responses, 1)
    )
    return [
        ("system", rubric),
        ("user", f"{instruction_text(messages)}\n\n# Answers{answers}"),
    ]


def shown_order(seed: int, prompt_id: str, aspect: str, count: int) -> list[int]:
    """Which answer is shown at each position: a permutation of ``range(count)`` drawn from
    ``seed``, the prompt and the aspect (the same on every run and resume)."""
    order = list(range(count))
    random.Random(f"{seed}:{prompt_id}:{aspect}").shuffle(order)
    return order


class ComparativeJudge:
    """Rates all answers of a prompt together, one structured call per aspect.

    ``model`` is a LangChain chat model with ``with_structured_output`` (or a
    ``KIND:TARGET[,key=value...]`` spec); ``label`` names it in the rows, else the name the
    model gives in its first reply does; ``seed`` draws the order the answers are shown in.
    """

    compares = True
    prompts_per_call = 1

    def __init__(self, model: BaseChatModel | str, *, label: str | None = None, seed: int = 0):
        self.model, spec_label = chat_model(model)
        self.label = label or spec_label
        self.seed = seed
        self._replier: str | None = None
        self._structured: dict[tuple[str, int], Runnable[Any, Any]] = {}
        structured(self.model, ratings_schema(ULTRAFEEDBACK_ASPECTS[0], 1))  # refused now

    @property
    def name(self) -> str:
        return self.label or self._replier or type(self.model).__name__

    @property
    def scale(self) -> ScoreScale:
        scale = aspect_mean_scale(ULTRAFEEDBACK_ASPECTS, [self.name])
        return ScoreScale(
            low=scale["low"], high=scale["high"], meaning=f"{scale['meaning']}; {SIDE_BY_SIDE}"
        )

    async def ajudge(self, prompts: Sequence[Sequence[CandidateRow]]) -> list[list[Verdict]]:
        return await _all([self._prompt(rows) for rows in prompts])

    async def _prompt(self, rows: Sequence[CandidateRow]) -> list[Verdict]:
        replies = await _all([self._aspect(aspect, rows) for aspect in ULTRAFEEDBACK_ASPECTS])
        problems = [problem for _, problem in replies if problem]
        if problems:
            first = rows[0]
            where = f"judge {self.name}: prompt {first['prompt_id'][:12]} ({len(rows)} answers)"
            error = f"{where}: {'; '.join(problems)}; no answer of this prompt was scored"
            return [Verdict(None, error=error) for _ in rows]
        verdicts = []
        for answer in range(len(rows)):
            ratings = {
                aspect: by_answer[answer]
                for aspect, (by_answer, _) in zip(ULTRAFEEDBACK_ASPECTS, replies, strict=True)
            }
            verdicts.append(Verdict(mean_rating(ratings), ratings))
        return verdicts

    async def _aspect(
        self, aspect: str, rows: Sequence[CandidateRow]
    ) -> tuple[list[AspectRating], str]:
        """One aspect's ratings of ``rows``, in the rows' order (mapped back from the order
        shown), or why there are none."""
        count = len(rows)
        order = shown_order(self.seed, rows[0]["prompt_id"], aspect, count)
        messages = comparative_messages(
            aspect, rows[0]["messages"], [rows[index]["response"] for index in order]
        )
        reply: Any = await self._runnable(aspect, count).ainvoke(messages)
        if self._replier is None:
            self._replier = replier_name(reply, self.model)
        schema = ratings_schema(aspect, count)
        parsed, invalid, reason = parse_reply(reply, schema)
        if parsed is None:
            rated = _rated(invalid)
            if rated is not None:
                return [], f"the {aspect} reply rated {rated} answers, not {count}"
            return [], f"the {aspect} reply did not parse: {reason}"
        items = getattr(parsed, "ratings")  # noqa: B009 (a field of a schema made at run time)
        mapped: list[AspectRating | None] = [None] * count
        for position, item in enumerate(items):
            mapped[order[position]] = AspectRating(rating=item.rating, rationale=item.rationale)
        return [rating for rating in mapped if rating is not None], ""

    def _runnable(self, aspect: str, count: int) -> Runnable[Any, Any]:
        key = (aspect, count)
        if key not in self._structured:
            model = with_budget(self.model, comparative_max_tokens(count))
            self._structured[key] = structured(model, ratings_schema(aspect, count))
        return self._structured[key]


def _rated(invalid: ValidationError | None) -> int | None:
    """How many answers a reply rated, when that count is why it did not parse."""
    if invalid is None:
        return None
    for error in invalid.errors():
        if error["loc"] == ("ratings",) and error["type"] in ("too_short", "too_long"):
            actual = (error.get("ctx") or {}).get("actual_length")
            if isinstance(actual, int):
                return actual
            given = error.get("input")
            return len(given) if isinstance(given, list) else None
    return None


async def _all(calls: Sequence[Awaitable[T]]) -> list[T]:
    """Await every call; if one fails, cancel the rest and raise its error."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
