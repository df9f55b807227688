"""Staging files and folders beside an output, and the cleaning of those a killed run left.

A run writes ``.<name>.<pid>.<random>.partial`` (or ``.old``) next to its target and renames it
into place when complete. A run killed before that leaves it behind; the next run for the same
target removes every such leftover whose process is gone (a live one belongs to a concurrent run
and is left alone).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

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
