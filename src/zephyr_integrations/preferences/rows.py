"""Reading candidate rows back (for the judge): each row checked, errors naming file and line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from zephyr_integrations.preferences.checkpoint import read_jsonl
from zephyr_integrations.preferences.records import CandidateRow

#: The fields a candidate row must have, and their types.
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "prompt_id": str,
    "prompt": str,
    "messages": list,
    "model": str,
    "sample": int,
    "response": str,
}


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
        problem = _problem(row)
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


def _problem(row: object) -> str | None:
    if not isinstance(row, dict):
        return f"expected a candidate row (an object), got {type(row).__name__}"
    for name, kind in REQUIRED.items():
        if name not in row:
            return f"no '{name}' field: not a candidate row from collect"
        value = row[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"'{name}' must be {_name(kind)}, got {type(value).__name__}"
    turns = row["messages"]
    if not turns or not all(
        isinstance(t, dict) and isinstance(t.get("role"), str) and isinstance(t.get("content"), str)
        for t in turns
    ):
        return "'messages' must be a non-empty list of {role, content} strings"
    return None


def _name(kind: type | tuple[type, ...]) -> str:
    return kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
