"""Atomic writes: every file and folder the project writes appears whole or not at all.

:func:`atomic_file` (a file) and :func:`atomic_folder` (a folder) write into a staging path
``.<name>.<pid>.<random>.tmp`` (or ``.partial``) beside the target and rename it into place only
when the block completes. A run killed before that leaves the staging path behind; the next write
to the same target removes every such leftover whose process is gone (a live one belongs to a
concurrent run and is left alone).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

_SUFFIXES = (".partial", ".old", ".tmp")


def staging_prefix(target: Path) -> str:
    """The name prefix of this process's staging paths for ``target``."""
    return f".{target.name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def sweep_stale(target: Path) -> list[Path]:
    """Remove the staging leftovers of dead runs beside ``target``; return what was removed."""
    folder = target.parent
    if not folder.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(\d+)\.[^/]*({'|'.join(_SUFFIXES)})$")
    removed = []
    for path in folder.iterdir():
        found = pattern.match(path.name)
        if found is None or _alive(int(found.group(1))):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


@contextmanager
def atomic_file(path: str | Path, *, mode: int | None = None) -> Iterator[IO[str]]:
    """A UTF-8 text file to write ``path`` through: it is flushed, fsync'd and renamed onto
    ``path`` when the block succeeds, and removed when it fails. ``mode`` (e.g. ``0o600`` for
    secrets) is set before anything is written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path)
    descriptor, staging = tempfile.mkstemp(
        prefix=staging_prefix(path), suffix=".tmp", dir=path.parent
    )
    try:
        if mode is not None:
            os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(target: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty folder beside ``target``; rename it to ``target`` when the block succeeds,
    delete it when it fails."""
    target = Path(target)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists (pass overwrite / --overwrite to replace)")
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target)  # what killed runs left
    staging = Path(
        tempfile.mkdtemp(prefix=staging_prefix(target), suffix=".partial", dir=target.parent)
    )
    try:
        yield staging
        if target.exists():
            old = Path(
                tempfile.mkdtemp(prefix=staging_prefix(target), suffix=".old", dir=target.parent)
            )
            os.replace(target, old / "previous")
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
