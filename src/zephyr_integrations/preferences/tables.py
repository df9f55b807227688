"""Reading the rows of a data file: JSON lines, CSV, Parquet, or a dataset folder.

A dataset folder is either one `datasets` wrote with ``save_to_disk`` (``dataset_dict.json`` or
``state.json``) or a Hub dataset repository (Parquet shards under ``data/``, named
``<split>-00000-of-0000N.parquet`` as the Hub and ``zephyr export`` name them). A folder with
splits needs ``split`` (a Hub folder's splits are its shards' name prefixes). Each row comes with
where it was read (``file:line`` or ``file row N``), so whoever checks it can say where a problem
is. A line that is not JSON is given as an :class:`Unreadable` (the caller lists it among the
other problems); a file that cannot be read at all raises :class:`TableFileError`.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zephyr_integrations.jsonl import Unreadable, jsonl_lines, unreadable

__all__ = ["TableFileError", "Unreadable", "table_rows"]

#: A Hub shard: ``data/<split>-00000-of-00003.parquet``.
_SHARD = re.compile(r"^(?P<split>.+?)-\d{5}-of-\d{5}$")


class TableFileError(ValueError):
    """A file or folder whose rows cannot be read (the message names it and says why)."""


def table_rows(path: str | Path, split: str | None = None) -> Iterator[tuple[str, object]]:
    """``(where, row)`` for every row of ``path`` (.jsonl, .json, .csv, .parquet, or a folder);
    ``row`` is what the file holds (usually a dict) or an :class:`Unreadable`."""
    source = Path(path)
    if not source.exists():
        raise TableFileError(f"{source}: no such file or folder")
    if source.is_dir():
        if (source / "data").is_dir() and not _saved_with_datasets(source):
            yield from _hub_rows(source, split)
        else:
            yield from _dataset_rows(source, split)
        return
    if split is not None:
        raise TableFileError(f"{source}: --split applies to a dataset folder only")
    suffix = source.suffix.lower()
    readers = {".jsonl": _jsonl_rows, ".json": _json_rows, ".csv": _csv_rows}
    if suffix == ".parquet":
        yield from _parquet_rows(source)
    elif suffix in readers:
        try:
            yield from readers[suffix](source)
        except (OSError, UnicodeDecodeError) as exc:
            raise TableFileError(unreadable(source, exc)) from exc
    else:
        raise TableFileError(
            f"{source}: unknown format {suffix or '(no suffix)'}; use .jsonl, .csv, .parquet "
            "or a dataset folder"
        )


def _saved_with_datasets(folder: Path) -> bool:
    return (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file()


def _json_rows(source: Path) -> Iterator[tuple[str, object]]:
    """A ``.json`` file: one JSON array of rows (as ``datasets`` writes with ``lines=False``), or
    JSON lines."""
    with source.open("rb") as handle:
        start = handle.read(4096).lstrip()
    if not start.startswith(b"["):
        yield from _jsonl_rows(source)
        return
    try:
        rows = json.loads(source.read_bytes().decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise TableFileError(f"{source}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    for index, row in enumerate(rows):
        yield f"{source} row {index}", row


def _jsonl_rows(source: Path) -> Iterator[tuple[str, object]]:
    for number, row in jsonl_lines(source):
        yield f"{source}:{number}", row


def _csv_rows(source: Path) -> Iterator[tuple[str, object]]:
    with source.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            return
        start = reader.line_num + 1
        for row in reader:
            yield f"{source}:{start}", _csv_row(row)
            start = reader.line_num + 1


def _csv_row(row: dict[str | Any, str | Any]) -> dict[str, object]:
    """A CSV row; a ``messages`` cell holds a JSON list."""
    parsed: dict[str, object] = dict(row)
    cell = row.get("messages")
    if isinstance(cell, str) and cell.strip():
        with contextlib.suppress(json.JSONDecodeError):  # else left a string: the wrong type
            parsed["messages"] = json.loads(cell)
    elif cell is not None:
        parsed.pop("messages")
    return parsed


def _parquet_rows(source: Path) -> Iterator[tuple[str, object]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(source)
    except (OSError, ValueError) as exc:  # ArrowInvalid is a ValueError
        raise TableFileError(f"{source}: cannot be read as Parquet: {exc}") from exc
    for index, row in enumerate(table.to_pylist()):
        yield f"{source} row {index}", row


def _dataset_rows(source: Path, split: str | None) -> Iterator[tuple[str, object]]:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(source))
    except (OSError, ValueError, FileNotFoundError) as exc:
        raise TableFileError(
            f"{source}: not a saved datasets folder nor a Hub dataset folder (data/*.parquet): "
            f"{exc}"
        ) from exc
    if isinstance(loaded, datasets.DatasetDict):
        if split is None or split not in loaded:
            names = ", ".join(loaded)
            raise TableFileError(f"{source}: choose a split with --split (one of {names})")
        loaded = loaded[split]
    elif split is not None:
        raise TableFileError(f"{source}: has no splits, drop --split")
    for index, row in enumerate(loaded):
        yield f"{source} row {index}", row


def hub_splits(folder: Path) -> dict[str, list[Path]]:
    """The splits of a Hub dataset folder and their Parquet shards, in name order."""
    splits: dict[str, list[Path]] = {}
    for shard in sorted((folder / "data").rglob("*.parquet")):
        match = _SHARD.match(shard.stem)
        splits.setdefault(match["split"] if match else shard.stem, []).append(shard)
    return splits


def _hub_rows(source: Path, split: str | None) -> Iterator[tuple[str, object]]:
    splits = hub_splits(source)
    if not splits:
        raise TableFileError(f"{source}: a Hub dataset folder with no data/*.parquet shards")
    if split is None or split not in splits:
        names = ", ".join(splits)
        raise TableFileError(f"{source}: choose a split with --split (one of {names})")
    index = 0
    for shard in splits[split]:
        for _, row in _parquet_rows(shard):
            yield f"{source} {split} row {index}", row
            index += 1
