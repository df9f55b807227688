"""What a source is: a layout of existing preference data, and the reader that makes stage rows.

Teams often start from data they already have: openbmb/UltraFeedback's raw rows, a TRL
preference dataset, an ultrafeedback_binarized export. A :class:`Source` names one such layout,
lists the columns that identify it (``zephyr import`` picks the source whose columns a file has,
or the one ``--layout`` names), and reads its rows into the project's stage rows
(:mod:`zephyr_integrations.preferences.records`), keeping every score the data carries:

- per-answer data (several scored answers to a prompt) becomes judged ``CandidateRow``s, which
  ``zephyr annotate push`` sends to Argilla for re-annotation (the scores as suggestions) and
  ``zephyr binarize``/``export`` group by prompt (``from_candidates``);
- pair data (one chosen and one rejected answer) becomes ``PreferenceRow``s of two answers, which
  ``zephyr binarize``/``export`` read directly.

Each row says in ``scale`` what its score means. Whatever the source holds that the stage row has
no field for is kept under ``original``, by the source's own names.

Sources register by name through the ``register_sources`` hook (see
:mod:`zephyr_integrations.hookspecs`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from zephyr_integrations.preferences.records import ChatTurn

#: The stage a source's rows belong to (see :mod:`zephyr_integrations.preferences.stages`): judged
#: candidates (per-answer data) or preference rows (pairs).
Stage = Literal["judged", "preference"]

#: One row of the source data and where it was read ("data.jsonl:3", "data.parquet row 2").
SourceRow = tuple[str, Mapping[str, Any]]


@dataclass(frozen=True)
class ImportOptions:
    """Choices a source may offer.

    ``score``: which of the source's scores becomes each answer's ``score`` (one of
    :attr:`Source.scores`; None: the source's first). ``score_range``: the range the source's
    scores lie on, for data that does not say (None: the source's default).
    """

    score: str | None = None
    score_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.score_range is not None:
            low, high = self.score_range
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"a score range is two finite numbers, low < high: {low}, {high}")


Reader = Callable[[Sequence[SourceRow], ImportOptions], list[dict[str, Any]]]
"""Reads every row of a source into stage rows; raises :class:`SourceRowError` naming the row
and field for a row it cannot read. ``options.score`` is always one of the source's scores."""


@dataclass(frozen=True)
class Source:
    """A layout of preference data: its name, the columns that identify it, what it yields, and
    its reader. ``scores`` names the scores a user may pick with ``--score`` (the first is the
    default); empty when the layout has one score or none. ``takes_score_range``: the reader
    uses ``ImportOptions.score_range`` (its data's scores name no scale)."""

    name: str
    columns: tuple[str, ...]
    yields: Stage
    read: Reader
    scores: tuple[str, ...] = ()
    takes_score_range: bool = False
    description: str = ""

    def lacks(self, columns: Collection[str]) -> list[str]:
        """The identifying columns missing from ``columns``."""
        return [name for name in self.columns if name not in columns]


class SourceRowError(ValueError):
    """A source row that cannot be read as its layout says (names the row and the field)."""


def kind(value: object) -> str:
    """A value's type as error messages name it."""
    return "null" if value is None else type(value).__name__


def conversation(value: object, where: str, name: str) -> list[ChatTurn]:
    """A list of ``{role, content}`` strings, checked; :class:`SourceRowError` otherwise."""
    if not isinstance(value, list):
        raise SourceRowError(f"{where}: {name!r} must be a list of turns, got {kind(value)}")
    if not value:
        raise SourceRowError(f"{where}: {name!r} has no turns")
    turns: list[ChatTurn] = []
    for index, turn in enumerate(value):
        role = turn.get("role") if isinstance(turn, Mapping) else None
        content = turn.get("content") if isinstance(turn, Mapping) else None
        if not isinstance(role, str) or not isinstance(content, str):
            raise SourceRowError(
                f"{where}: {name}[{index}] must be {{role, content}} strings, got {kind(turn)}"
            )
        turns.append(ChatTurn(role=role, content=content))
    return turns


def text(row: Mapping[str, Any], name: str, where: str) -> str:
    """A non-empty string field of ``row``."""
    value = row.get(name)
    if not isinstance(value, str):
        raise SourceRowError(f"{where}: {name!r} must be a string, got {kind(value)}")
    if not value.strip():
        raise SourceRowError(f"{where}: {name!r} is empty")
    return value


def number(value: object, where: str, name: str) -> float | None:
    """A score: a number or null (a string or a bool is refused)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SourceRowError(f"{where}: {name!r} must be a number or null, got {kind(value)}")
    return float(value)


def extras(row: Mapping[str, Any], used: Collection[str]) -> dict[str, Any]:
    """The fields of ``row`` a reader did not turn into stage-row fields (kept as ``original``)."""
    return {key: value for key, value in row.items() if key not in used}
