"""An append-only JSON-lines log that a killed run can resume, finished into one file.

While a run works, rows go to ``<output>.partial``: each row is written and flushed as it
completes, and the file is fsync'd every ``fsync_every`` rows or ``fsync_seconds`` seconds. A run
that starts again reads what is there, drops a torn last line (a row cut short by the kill), and
skips the keys it holds. :meth:`CheckpointLog.finish` writes every row, in a stable order, to a
temporary file in the output's folder and moves it onto ``output`` (``os.replace``), so
``output`` is only ever a whole file. Starting again on a finished ``output`` continues from it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import IO, Any

from zephyr_integrations.jsonl import Row, Unreadable, jsonl_lines, unreadable, write_jsonl

__all__ = ["CheckpointError", "CheckpointLog", "Row"]


class CheckpointError(ValueError):
    """An output or partial file that cannot be resumed (says which file and line)."""


class CheckpointLog:
    """Rows keyed by ``key(row)``, logged to ``<output>.partial`` and finished into ``output``."""

    def __init__(
        self,
        output: str | Path,
        key: Callable[[Row], Hashable],
        *,
        fsync_every: int = 64,
        fsync_seconds: float = 2.0,
    ) -> None:
        self.output = Path(output)
        self.partial = self.output.with_name(self.output.name + ".partial")
        self.key = key
        self.fsync_every = fsync_every
        self.fsync_seconds = fsync_seconds
        self.rows: dict[Hashable, Row] = {}
        self.resumed = 0  # rows found from an earlier run
        self.torn = False  # whether a torn last line was dropped
        self._handle: IO[str] | None = None
        self._unsynced = 0
        self._synced_at = time.monotonic()

    def open(self) -> dict[Hashable, Row]:
        """Read what an earlier run left, open the partial file for appending; the done rows."""
        if not self.output.parent.is_dir():
            raise CheckpointError(f"{self.output}: the folder {self.output.parent} does not exist")
        if not self.partial.exists() and self.output.exists():
            shutil.copyfile(self.output, self.partial)
        handle = self.partial.open("a", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise CheckpointError(f"{self.partial}: another run is writing it") from exc
        try:
            self._read()
        except BaseException:
            handle.close()
            raise
        self._handle = handle
        self.resumed = len(self.rows)
        return dict(self.rows)

    def _read(self) -> None:
        data = self.partial.read_bytes()
        if data and not data.endswith(b"\n"):
            os.truncate(self.partial, data.rfind(b"\n") + 1)
            self.torn = True
        try:
            lines = list(jsonl_lines(self.partial))
        except (OSError, UnicodeDecodeError) as exc:
            raise CheckpointError(unreadable(self.partial, exc)) from exc
        for number, row in lines:
            where = f"{self.partial}:{number}"
            try:
                if isinstance(row, Unreadable):
                    raise ValueError(row.message.removeprefix(f"{where}: "))
                if not isinstance(row, dict):
                    raise TypeError(f"a JSON {type(row).__name__}, not an object")
                key = self.key(row)
            except (ValueError, KeyError, TypeError) as exc:
                raise CheckpointError(
                    f"{where}: not a row this run wrote ({exc}); move the file away to start over"
                ) from exc
            self.rows[key] = row  # a later line replaces an earlier one (a retried row)

    def append(self, row: Row, *, replace: bool = False) -> None:
        """Log one finished row: written and flushed now, fsync'd at the next checkpoint.

        ``replace=True`` lets it stand in for an earlier row with the same key (a retry).
        """
        if self._handle is None:
            raise RuntimeError("open() the log first")
        key = self.key(row)
        if key in self.rows and not replace:
            raise ValueError(f"row {key!r} is already in {self.partial}")
        self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._handle.flush()
        self.rows[key] = row
        self._unsynced += 1
        if (
            self._unsynced >= self.fsync_every
            or time.monotonic() - self._synced_at >= self.fsync_seconds
        ):
            self.checkpoint()

    def checkpoint(self) -> None:
        """Make every logged row durable (fsync)."""
        if self._handle is not None and self._unsynced:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        self._unsynced = 0
        self._synced_at = time.monotonic()

    def finish(self, order: Callable[[Row], Any]) -> Path:
        """Write every row sorted by ``order`` to ``output`` in one step; remove the partial."""
        self.checkpoint()
        write_jsonl(self.output, sorted(self.rows.values(), key=order))
        self.close()
        self.partial.unlink(missing_ok=True)
        return self.output

    def close(self) -> None:
        """Close the partial file (kept, so the run can resume)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.flush()
                os.fsync(handle.fileno())
            handle.close()
            if self.partial.exists() and self.partial.stat().st_size == 0:
                self.partial.unlink()  # nothing was done: leave nothing behind

    def __enter__(self) -> CheckpointLog:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
