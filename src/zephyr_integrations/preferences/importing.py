"""Existing preference data -> the project's stage rows, through a :class:`Source`.

:func:`import_file` reads a file or dataset folder (the formats of
:mod:`zephyr_integrations.preferences.tables`), :func:`import_rows` any rows (a list of dicts, a
``datasets.Dataset``). The layout is the one named, or the one whose identifying columns the
first row has (the most specific, when one layout's columns include another's); every row is
read and every stage row checked before :func:`write_rows` writes anything, all at once.

``sources`` defaults to the built-in ones; a plugin's are looked up with
``zephyr_integrations.plugins.sources()`` and passed, as the CLI does.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from zephyr_integrations.jsonl import write_jsonl
from zephyr_integrations.preferences.records import CandidateRow
from zephyr_integrations.preferences.rows import read_candidates
from zephyr_integrations.preferences.sources import BUILTIN_SOURCES
from zephyr_integrations.preferences.sources.base import ImportOptions, Source, SourceRow, Stage
from zephyr_integrations.preferences.stages import STAGES
from zephyr_integrations.preferences.tables import Unreadable, table_rows

__all__ = [
    "ImportOptions",
    "Imported",
    "LayoutError",
    "detect",
    "import_file",
    "import_rows",
    "write_rows",
]


class LayoutError(ValueError):
    """No source (or more than one) reads the data, or the one named cannot."""


@dataclass(frozen=True)
class Imported:
    """What an import gave: the source that read the data, with the options it was read with
    (``score`` resolved), how many source rows it read, and the stage rows."""

    source: Source
    options: ImportOptions
    read: int
    rows: list[dict[str, Any]]

    @property
    def stage(self) -> Stage:
        return self.source.yields


def detect(columns: Collection[str], sources: Iterable[Source], where: str = "the data") -> Source:
    """The source whose identifying columns ``columns`` holds (the most specific one)."""
    tried = list(sources)
    fits = [s for s in tried if not s.lacks(columns)]
    best = [s for s in fits if not any(set(s.columns) < set(o.columns) for o in fits)]
    if len(best) == 1:
        return best[0]
    if best:
        names = ", ".join(s.name for s in best)
        raise LayoutError(
            f"{where}: the columns fit several layouts ({names}); pick one with --layout"
        )
    lacking = "; ".join(f"{s.name} lacks {', '.join(s.lacks(columns))}" for s in tried)
    shown = ", ".join(sorted(columns)) or "none"
    raise LayoutError(
        f"{where}: unknown layout (columns: {shown}); tried {lacking}; rename the columns or "
        "name a layout with --layout"
    )


def import_rows(
    rows: Iterable[Mapping[str, Any]] | Iterable[SourceRow],
    *,
    layout: str | None = None,
    sources: Iterable[Source] | None = None,
    options: ImportOptions | None = None,
    where: str = "the data",
) -> Imported:
    """Read ``rows`` (mappings, or ``(where, mapping)`` pairs) with the source named ``layout``
    or the detected one; raise ``ValueError`` naming the row and field of the first problem."""
    numbered = _numbered(rows)
    if not numbered:
        raise LayoutError(f"{where}: no rows")
    candidates = list(BUILTIN_SOURCES.values() if sources is None else sources)
    if layout is None:
        source = detect(numbered[0][1].keys(), candidates, where)
    else:
        source = _named(layout, candidates)
        missing = source.lacks(numbered[0][1].keys())
        if missing:
            raise LayoutError(
                f"{numbered[0][0]}: layout {source.name} needs the columns "
                f"{', '.join(source.columns)}; the data lacks {', '.join(missing)}"
            )
    options = _resolve(options or ImportOptions(), source)
    stage_rows = source.read(numbered, options)
    _check(stage_rows, source)
    return Imported(source, options, len(numbered), stage_rows)


def import_file(
    path: str | Path,
    *,
    split: str | None = None,
    layout: str | None = None,
    sources: Iterable[Source] | None = None,
    options: ImportOptions | None = None,
) -> Imported:
    """:func:`import_rows` on the rows of a file or dataset folder (``split`` of a folder)."""
    numbered: list[SourceRow] = []
    for where, row in table_rows(path, split):
        if isinstance(row, Unreadable):
            raise ValueError(row.message)
        if not isinstance(row, Mapping):
            raise ValueError(
                f"{where}: expected an object (a row of columns), got {type(row).__name__}"
            )
        numbered.append((where, row))
    return import_rows(numbered, layout=layout, sources=sources, options=options, where=str(path))


def write_rows(imported: Imported, output: str | Path) -> Path:
    """Write the stage rows as JSON lines, all at once (a temporary file renamed into place)."""
    path = Path(output)
    write_jsonl(path, imported.rows)
    return path


def _numbered(rows: Iterable[Mapping[str, Any]] | Iterable[SourceRow]) -> list[SourceRow]:
    numbered: list[SourceRow] = []
    for index, item in enumerate(rows):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Mapping):
            numbered.append((str(item[0]), item[1]))
        elif isinstance(item, Mapping):
            numbered.append((f"row {index}", item))
        else:
            raise ValueError(
                f"row {index}: expected a mapping of columns, got {type(item).__name__}"
            )
    return numbered


def _named(layout: str, sources: Sequence[Source]) -> Source:
    for source in sources:
        if source.name == layout:
            return source
    names = ", ".join(s.name for s in sources) or "none"
    raise LayoutError(f"--layout {layout}: no such layout; the layouts are {names}")


def _resolve(options: ImportOptions, source: Source) -> ImportOptions:
    """``options`` with ``score`` set to the source's default when not chosen; checked."""
    if options.score_range is not None and not source.takes_score_range:
        raise LayoutError(
            f"--min-score/--max-score: layout {source.name} says what its scores range over; "
            "drop them"
        )
    if options.score is None:
        return replace(options, score=source.scores[0]) if source.scores else options
    if options.score not in source.scores:
        offered = (
            f"it offers {', '.join(source.scores)}" if source.scores else "it has one way to score"
        )
        raise LayoutError(
            f"--score {options.score}: not a score of layout {source.name} ({offered})"
        )
    return options


def _check(rows: list[dict[str, Any]], source: Source) -> None:
    """Every row the source gave is a stage row of the kind it says (catches a plugin's bug)."""
    if source.yields not in ("judged", "preference"):
        raise ValueError(
            f"source {source.name} yields {source.yields!r}; a source yields 'judged' or "
            "'preference' rows"
        )
    check = STAGES[source.yields].check
    for index, row in enumerate(rows):
        problem = check(row)
        if problem:
            raise ValueError(
                f"source {source.name} gave a row that is not a {source.yields} row: row {index}: "
                f"{problem}"
            )
    if source.yields == "judged":
        _, duplicates = read_candidates(cast(list[CandidateRow], rows))
        if duplicates:
            raise ValueError(
                f"source {source.name} gave two candidates with one (prompt_id, model, sample): "
                f"{duplicates[0]}"
            )
