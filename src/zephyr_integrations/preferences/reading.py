"""Reading JSON lines for binarizing: PreferenceRows, or judged CandidateRows grouped by prompt.

The whole file is read and checked before anything is written. A line that is not JSON, or a
candidate without the fields grouping needs, is an `InputError` naming the file and line.
Problems binarizing can count (no scores, one answer, NaN scores...) are left to it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from zephyr_integrations.preferences.checkpoint import unreadable
from zephyr_integrations.preferences.records import CandidateRow, from_candidates

Kind = Literal["preferences", "candidates", "pairs"]
_CANDIDATE_FIELDS = ("prompt_id", "prompt", "model", "response")


class InputError(ValueError):
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


def read_jsonl(path: str | Path) -> tuple[Kind, list[dict[str, Any]]]:
    """Every record of a JSON-lines file (blank lines skipped) and, from the first, their kind."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(unreadable(path, exc)) from exc
    kind: Kind | None = None
    records: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise InputError(f"{path}:{number}: expected a JSON object")
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
        if this == "candidates":
            for name in _CANDIDATE_FIELDS:
                if not isinstance(record.get(name), str):
                    raise InputError(f"{path}:{number}: field {name!r} must be a string")
        records.append(record)
    if kind is None:
        raise InputError(f"{path} holds no records")
    return kind, records


def read_preferences(path: str | Path) -> list[dict[str, Any]]:
    """PreferenceRows from a file of PreferenceRows or of judged CandidateRows."""
    kind, records = read_jsonl(path)
    if kind == "pairs":
        raise InputError(f"{path} holds pairs already; binarize reads PreferenceRows")
    if kind == "candidates":
        candidates: list[CandidateRow] = [
            {**r, "messages": r.get("messages") or []}  # type: ignore[typeddict-item]
            for r in records
        ]
        return [dict(row) for row in from_candidates(candidates)]
    return records
