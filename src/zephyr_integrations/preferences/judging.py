"""What a judge is: every answer to one prompt in, one verdict per answer out.

A judge scores candidate answers (:class:`~zephyr_integrations.preferences.records.CandidateRow`
from ``collect``). It is handed the answers of one or more prompts at a time: an LLM judge that
rates one answer per call (UltraFeedback as H4 reran it), one that rates all answers of a prompt
together (UltraFeedback's own comparative judging), or a reward model that scores many
(conversation, answer) pairs in one padded forward pass. The runner
(:func:`~zephyr_integrations.preferences.feedback.ajudge`) owns concurrency, retries, resuming
and the output file; a judge only judges.

Judges register by name through the ``register_judges`` hook (see
:mod:`zephyr_integrations.hookspecs`); ``zephyr judge --judge NAME`` looks them up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from zephyr_integrations.preferences.records import AspectRating, CandidateRow, ScoreScale


@dataclass(frozen=True)
class Verdict:
    """A judge's word on one answer.

    ``score`` is on the judge's :attr:`Judge.scale` (None: no score, and ``error`` says why, e.g.
    a reply that did not parse). ``ratings`` are per-aspect ratings with their rationales, for
    judges that give them (UltraFeedback); score-only judges (reward models) leave it None.
    """

    score: float | None
    ratings: dict[str, AspectRating] | None = None
    error: str | None = None


@runtime_checkable
class Judge(Protocol):
    """Scores the answers to prompts.

    ``name`` is recorded in each judged row's ``judge`` (a model name); ``scale`` says what its
    scores mean and is recorded in each row's ``scale``, so binarizing checks every score against
    the scale it was given on. Both are read after the run's calls, so a judge may learn its
    name from its first reply. ``prompts_per_call`` is how many groups of answers the runner
    hands to one :meth:`ajudge` call (1 for LLM judges; more for batched scorers).

    ``compares`` says whether a verdict depends on the other answers shown with it. A judge that
    compares gets every answer of a prompt in one group, also when only some of them still need a
    verdict (on resume, or with ``retry_failed``; only those are recorded). One that does not
    gets each answer as a group of its own, so it never rates an answer twice.
    """

    @property
    def compares(self) -> bool: ...

    @property
    def name(self) -> str: ...

    @property
    def scale(self) -> ScoreScale: ...

    @property
    def prompts_per_call(self) -> int: ...

    async def ajudge(self, prompts: Sequence[Sequence[CandidateRow]]) -> list[list[Verdict]]:
        """Judge each prompt's answers (every row of one inner sequence shares its ``prompt_id``
        and conversation); return one verdict per answer, in the order given.

        Raise for a call that failed (the runner retries transient errors); return a verdict with
        ``error`` for an answer the judge could not score (not retried).
        """
        ...


class JudgeError(ValueError):
    """Judging cannot start: an unusable judge, input or output."""


JudgeFactory = Callable[..., Judge]
"""Builds a judge: ``factory(model, **options)``. ``model`` is what ``zephyr judge -m`` names:
a chat model spec (``KIND:TARGET[,key=value...]``, see :mod:`zephyr_integrations.model_spec`),
a model id or folder (reward models), or, from Python, the object itself (a chat model)."""
