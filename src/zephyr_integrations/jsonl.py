"""JSON lines, the format every stage's rows are kept in: the one reader and the one writer.

:func:`jsonl_lines` goes through a file line by line (no line held past ``ZEPHYR_MAX_LINE_BYTES``),
giving each line's value or an :class:`Unreadable` saying why it has none, so a caller can list
every bad line; :func:`read_jsonl` reads a whole file of rows and stops at the first bad line,
naming the file and line. :func:`write_jsonl` writes rows atomically (see
:mod:`zephyr_integrations.staging`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from zephyr_integrations.limits import max_line_bytes
from zephyr_integrations.staging import atomic_file

Row = dict[str, Any]


class RowFileError(ValueError):
    """A JSON-lines file that cannot be read as rows (the message names the file and line)."""


@dataclass(frozen=True)
class Unreadable:
    """A line that could not be parsed at all: ``message`` says where and why."""

    message: str


def jsonl_lines(path: str | Path) -> Iterator[tuple[int, object]]:
    """``(line number, value)`` for every non-blank line of ``path``; the value is the parsed
    JSON, or an :class:`Unreadable` for a line that is not JSON or is too long. Raises
    ``OSError``/``UnicodeDecodeError`` for a file that cannot be read."""
    path = Path(path)
    limit = max_line_bytes()
    with path.open("rb") as lines:
        for number, line in enumerate(_bounded_lines(lines, limit), start=1):
            where = f"{path}:{number}"
            if line is None:
                message = (
                    f"{where}: the line is over {limit:,} bytes (ZEPHYR_MAX_LINE_BYTES); "
                    "no row should be that long"
                )
                yield number, Unreadable(message)
            elif line.strip():
                try:
                    yield number, json.loads(line.decode("utf-8"))
                except json.JSONDecodeError as exc:
                    yield number, Unreadable(f"{where}: not valid JSON ({exc.msg})")


def _bounded_lines(handle: BinaryIO, limit: int) -> Iterator[bytes | None]:
    """The file's lines, never holding more than ``limit`` bytes of one: a longer line is
    skipped in chunks and given as None."""
    while line := handle.readline(limit + 1):
        if line.endswith(b"\n") or len(line) <= limit:
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = handle.readline(1 << 20)
        yield None


def read_jsonl(path: str | Path) -> list[tuple[int, Row]]:
    """The rows of a JSON-lines file with their line numbers (blank lines skipped); the first
    line that is not a JSON object raises :class:`RowFileError` naming the file and line."""
    path = Path(path)
    rows: list[tuple[int, Row]] = []
    try:
        for number, row in jsonl_lines(path):
            if isinstance(row, Unreadable):
                raise RowFileError(row.message)
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
