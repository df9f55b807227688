"""JSON lines, the format every stage's rows are kept in: the one reader and the one writer.

:func:`read_jsonl` reads a whole file and names the file and line of the first line that is not a
JSON object; :func:`write_jsonl` writes rows atomically (see :mod:`zephyr_integrations.staging`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zephyr_integrations.staging import atomic_file

Row = dict[str, Any]


class RowFileError(ValueError):
    """A JSON-lines file that cannot be read as rows (the message names the file and line)."""


def read_jsonl(path: str | Path) -> list[tuple[int, Row]]:
    """The rows of a JSON-lines file with their line numbers (blank lines skipped)."""
    path = Path(path)
    rows: list[tuple[int, Row]] = []
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RowFileError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise RowFileError(f"{path}:{number}: expected a JSON object")
                rows.append((number, row))
    except (OSError, UnicodeDecodeError) as exc:
        raise RowFileError(unreadable(path, exc)) from exc
    return rows


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> None:
    """Write ``rows`` as JSON lines (UTF-8, one object per line) to ``path``, atomically."""
    with atomic_file(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def unreadable(path: Path, exc: OSError | UnicodeDecodeError) -> str:
    """One line saying why ``path`` cannot be read as text."""
    if isinstance(exc, UnicodeDecodeError):
        byte = exc.object[exc.start : exc.start + 1].hex()
        return f"{path}: not UTF-8 text (a 0x{byte} byte); save the file as UTF-8"
    if isinstance(exc, IsADirectoryError):
        return f"{path}: is a folder, not a file"
    if isinstance(exc, FileNotFoundError):
        return f"{path}: no such file"
    return f"{path}: cannot be read ({exc.strerror or exc})"
