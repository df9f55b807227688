"""Reading JSON lines for binarizing: PreferenceRows, or judged CandidateRows grouped by prompt.

The whole file is read and checked before anything is written. A line that is not JSON, or a
candidate without the fields grouping needs, is an `InputError` naming the file and line.
Problems binarizing can count (no scores, one answer, NaN scores...) are left to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from zephyr_integrations.jsonl import RowFileError, read_jsonl
from zephyr_integrations.preferences.records import CandidateRow, from_candidates
from zephyr_integrations.preferences.stages import STAGES

Kind = Literal["preferences", "candidates", "pairs"]
_STAGE_OF = {"candidates": "judged", "pairs": "pair", "preferences": "preference"}


class InputError(RowFileError):
    """The input file cannot be read as preference data (names the file and line)."""


def kind_of(record: dict[str, Any]) -> Kind | None:
    """What a record is: a PreferenceRow, a CandidateRow, or an exported pair."""
    if "completions" in record:
        return "preferences"
    if "chosen" in record and "rejected" in record:
        return "pairs"
    if "response" in record:
        return "candidates"
    return None


def read_rows(path: str | Path) -> tuple[Kind, list[dict[str, Any]]]:
    """Every record of a JSON-lines file and, from the first, their kind (all must share it)."""
    try:
        numbered = read_jsonl(path)
    except RowFileError as exc:
        raise InputError(str(exc)) from exc
    kind: Kind | None = None
    records: list[dict[str, Any]] = []
    for number, record in numbered:
        this = kind_of(record)
        if this is None:
            raise InputError(
                f"{path}:{number}: neither a PreferenceRow ('completions'), a CandidateRow "
                f"('response') nor a pair ('chosen', 'rejected')"
            )
        if kind is None:
            kind = this
        elif this != kind:
            raise InputError(f"{path}:{number}: a {this} record among {kind} records")
        problem = STAGES[_STAGE_OF[this]].check(record) if this != "preferences" else None
        if problem:  # a PreferenceRow's problems are counted by binarize, not fatal
            raise InputError(f"{path}:{number}: {problem}")
        records.append(record)
    if kind is None:
        raise InputError(f"{path} holds no records")
    return kind, records


def read_preferences(path: str | Path) -> list[dict[str, Any]]:
    """PreferenceRows from a file of PreferenceRows or of judged CandidateRows."""
    kind, records = read_rows(path)
    if kind == "pairs":
        raise InputError(f"{path} holds pairs already; binarize reads PreferenceRows")
    if kind == "candidates":
        candidates: list[CandidateRow] = [
            {**r, "messages": r.get("messages") or []}  # type: ignore[typeddict-item]
            for r in records
        ]
        return [dict(row) for row in from_candidates(candidates)]
    return records
