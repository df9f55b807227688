"""Reading candidate rows back (for the judge): each row checked, errors naming file and line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from zephyr_integrations.jsonl import read_jsonl
from zephyr_integrations.preferences.records import CandidateRow
from zephyr_integrations.preferences.stages import candidate_problem


@dataclass(frozen=True)
class Candidate:
    """A candidate row and where it was read ("candidates.jsonl:7" or "row 7")."""

    row: CandidateRow
    where: str


class CandidateFileError(ValueError):
    """Candidate rows that cannot be used; the message names the file and line of each."""


def read_candidates(
    source: Path | Sequence[CandidateRow],
) -> tuple[list[Candidate], list[str]]:
    """The distinct candidates of a JSON-lines file (or a list of rows), in order, and a line
    for each repeated (prompt_id, model, sample) key, which is kept once."""
    if isinstance(source, Path):
        numbered: list[tuple[str, Any]] = [
            (f"{source}:{number}", row) for number, row in read_jsonl(source)
        ]
    else:
        numbered = [(f"row {index}", row) for index, row in enumerate(source)]
    problems: list[str] = []
    candidates: list[Candidate] = []
    first: dict[tuple[str, str, int], str] = {}
    duplicates: list[str] = []
    for where, row in numbered:
        problem = candidate_problem(row)
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        key = (row["prompt_id"], row["model"], row["sample"])
        if key in first:
            duplicates.append(f"{where} repeats {first[key]}")
            continue
        first[key] = where
        candidates.append(Candidate(cast(CandidateRow, row), where))
    if problems:
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise CandidateFileError("; ".join(problems[:10]) + more)
    return candidates, duplicates
