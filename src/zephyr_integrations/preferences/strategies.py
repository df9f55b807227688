"""Binarization strategies: which (chosen, rejected) pairs one prompt's scored answers give.

A strategy is a function ``strategy(answers, policy) -> pairs | reason``: a list of
``(chosen_index, rejected_index)`` pairs, or the reason (one of `DROP_REASONS`) the prompt gives
none. Strategies are registered through the ``register_binarizers`` hook; the built-ins are:

- ``zephyr``: the highest score is chosen (the first on a tie); the rejected answer is drawn at
  random from the others, seeded by ``prompt_id`` (HuggingFaceH4/ultrafeedback_binarized's rule).
- ``best_vs_worst``: the highest score against the lowest (the first on a tie; distilabel's rule).
- ``all_pairs``: every pair of answers with different scores (and equal ones if ties are kept),
  the better one chosen (TRL issue 1831's "expand several rejected into pairs").

Every candidate pair passes `pair_problem` first: identical texts are never a pair, a pair whose
score margin is below ``policy.min_margin`` is not one, and ties are dropped if the policy says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

TiePolicy = Literal["keep", "drop"]
Pair = tuple[int, int]

#: Why a record gives no pair, in the order reports list them.
DROP_REASONS: tuple[str, ...] = (
    "malformed",  # not a PreferenceRow: a field is missing or has the wrong type
    "fewer_than_two_answers",
    "no_scores",  # fewer than two answers carry a score
    "nan_score",
    "out_of_range_score",
    "chosen_equals_rejected",  # every candidate rejected answer has the chosen answer's text
    "tie",  # ties are dropped and no answer scores strictly lower than the best
    "below_margin",  # no pair reaches the minimum score margin
)


@dataclass(frozen=True, slots=True)
class PairPolicy:
    """What makes a pair acceptable: a minimum score margin, and whether equal scores count."""

    min_margin: float = 0.0
    ties: TiePolicy = "keep"

    def __post_init__(self) -> None:
        if not self.min_margin >= 0:  # also rejects NaN
            raise ValueError(f"min_margin must be >= 0, got {self.min_margin!r}")
        if self.ties not in ("keep", "drop"):
            raise ValueError(f"ties must be 'keep' or 'drop', got {self.ties!r}")


@dataclass(frozen=True, slots=True)
class Answers:
    """One prompt's scored answers, and its own seeded random draw."""

    prompt_id: str
    scores: Sequence[float]
    responses: Sequence[str]
    seed: int = 42

    def draw(self, n: int) -> int:
        """An index in ``range(n)``, a function of (seed, prompt_id, n) only: row order never
        changes it."""
        key = f"{self.seed}\x00{self.prompt_id}\x00{n}".encode()
        value = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")
        return value % n


Binarizer = Callable[[Answers, PairPolicy], "list[Pair] | str"]
"""Turns one prompt's scored answers into (chosen, rejected) index pairs, or a drop reason;
registered by name through the ``register_binarizers`` hook."""

_PRECEDENCE = ("below_margin", "tie", "chosen_equals_rejected")


def pair_problem(answers: Answers, policy: PairPolicy, chosen: int, rejected: int) -> str | None:
    """Why (chosen, rejected) is not an acceptable pair, or None if it is."""
    if answers.responses[chosen] == answers.responses[rejected]:
        return "chosen_equals_rejected"
    margin = answers.scores[chosen] - answers.scores[rejected]
    if margin == 0 and policy.ties == "drop":
        return "tie"
    if margin < policy.min_margin:
        return "below_margin"
    return None


def _reason(problems: Sequence[str]) -> str:
    """The reason to report when every candidate pair had a problem (what a user can change
    first: the margin, then the tie policy)."""
    for reason in _PRECEDENCE:
        if reason in problems:
            return reason
    return "fewer_than_two_answers"


def best_index(scores: Sequence[float]) -> int:
    """The index of the highest score; the first one on a tie."""
    best = 0
    for i in range(1, len(scores)):
        if scores[i] > scores[best]:
            best = i
    return best


def zephyr(answers: Answers, policy: PairPolicy) -> list[Pair] | str:
    """Highest score chosen; rejected drawn (seeded per prompt) from the acceptable others."""
    chosen = best_index(answers.scores)
    candidates: list[int] = []
    problems: list[str] = []
    for i in range(len(answers.scores)):
        if i == chosen:
            continue
        problem = pair_problem(answers, policy, chosen, i)
        if problem is None:
            candidates.append(i)
        else:
            problems.append(problem)
    if not candidates:
        return _reason(problems)
    return [(chosen, candidates[answers.draw(len(candidates))])]


def best_vs_worst(answers: Answers, policy: PairPolicy) -> list[Pair] | str:
    """Highest score chosen, lowest rejected (the first on a tie, skipping identical texts)."""
    scores = answers.scores
    chosen = best_index(scores)
    others = sorted((i for i in range(len(scores)) if i != chosen), key=scores.__getitem__)
    problems: list[str] = []
    for i in others:
        problem = pair_problem(answers, policy, chosen, i)
        if problem is None:
            return [(chosen, i)]
        problems.append(problem)
    return _reason(problems)


def all_pairs(answers: Answers, policy: PairPolicy) -> list[Pair] | str:
    """Every acceptable pair, the higher score chosen (the earlier answer on a tie)."""
    scores = answers.scores
    pairs: list[Pair] = []
    problems: list[str] = []
    n = len(scores)
    for i in range(n):
        for j in range(n):
            if i == j or scores[i] < scores[j] or (scores[i] == scores[j] and i > j):
                continue
            problem = pair_problem(answers, policy, i, j)
            if problem is None:
                pairs.append((i, j))
            else:
                problems.append(problem)
    return pairs if pairs else _reason(problems)


BUILTIN_BINARIZERS: dict[str, Binarizer] = {
    "zephyr": zephyr,
    "best_vs_worst": best_vs_worst,
    "all_pairs": all_pairs,
}
