"""Checking a command's arguments before it reads, computes or contacts anything.

Each check raises ``ValueError`` with one line naming the option and the value, so a bad output
path or name fails at once, with nothing created and no work lost.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: Argilla's limit on dataset and workspace names (argilla-server 2.8).
MAX_NAME_LENGTH = 200


def _nearest_existing(path: Path) -> Path:
    """The closest ancestor of ``path`` that exists (``path`` itself when it exists)."""
    current = path.absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def _check_can_create_in(path: Path, option: str) -> None:
    """Files can be created where ``path`` will be (its nearest existing ancestor is a folder we
    may write in); tried for real, since root passes every permission check."""
    ancestor = _nearest_existing(path.parent)
    if not ancestor.is_dir():
        raise ValueError(f"{option} {path}: {ancestor} is a file, not a folder")
    try:
        descriptor, probe = tempfile.mkstemp(dir=ancestor, prefix=".zephyr-write-check-")
    except OSError as exc:
        raise ValueError(f"{option} {path}: cannot write in {ancestor} ({exc.strerror})") from None
    os.close(descriptor)
    os.unlink(probe)


def output_file(path: Path, option: str = "--output", *, overwrite: bool = True) -> None:
    """``path`` can be written as a file: not a folder, in a folder we may write in."""
    if path.is_dir():
        raise ValueError(f"{option} {path}: is a folder; give the path of a file")
    if path.exists() and not overwrite:
        raise ValueError(f"{option} {path}: already exists (pass --overwrite to replace it)")
    _check_can_create_in(path, option)


def output_folder(path: Path, option: str = "--output", *, overwrite: bool = False) -> None:
    """``path`` can be written as a folder: absent (or a folder, with ``overwrite``)."""
    if path.exists() and not overwrite:
        raise ValueError(f"{option} {path}: already exists (pass --overwrite to replace it)")
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {path}: is a file, not a folder")
    _check_can_create_in(path, option)


def input_file(path: Path) -> None:
    """``path`` is a file that exists (a folder or a missing path is refused)."""
    if not path.exists():
        raise ValueError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a file")


def argilla_name(value: str | None, option: str) -> None:
    """A dataset or workspace name Argilla accepts: 1-200 characters, not blank."""
    if value is None:
        return
    if not value.strip():
        raise ValueError(f"{option} {value!r}: a name cannot be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(
            f"{option}: a name of {len(value)} characters is too long (at most {MAX_NAME_LENGTH})"
        )
    if any(ord(char) < 32 for char in value):
        raise ValueError(f"{option} {value!r}: a name cannot hold control characters")


def at_least(value: int, minimum: int, option: str) -> None:
    if value < minimum:
        raise ValueError(f"{option} {value}: must be at least {minimum}")
