"""Finding `annotation/guidelines.md`, the text annotators see in every dataset template."""

from __future__ import annotations

import os
from pathlib import Path

GUIDELINES_FILE = "guidelines.md"


def annotation_dir() -> Path:
    """`$ZEPHYR_ANNOTATION_DIR`, else `./annotation`, else the project checkout's `annotation/`."""
    env = os.environ.get("ZEPHYR_ANNOTATION_DIR")
    candidates = [Path(env)] if env else []
    candidates += [Path.cwd() / "annotation", Path(__file__).resolve().parents[4] / "annotation"]
    for candidate in candidates:
        if (candidate / GUIDELINES_FILE).is_file():
            return candidate
    searched = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"no {GUIDELINES_FILE} found (searched {searched}); set ZEPHYR_ANNOTATION_DIR"
    )


def load_guidelines(path: Path | None = None) -> str:
    """The guidelines' Markdown text; `path` defaults to `annotation/guidelines.md`."""
    target = path or annotation_dir() / GUIDELINES_FILE
    text = target.read_text(encoding="utf-8").strip()
    if not text:
        raise ValueError(f"{target}: the guidelines are empty")
    return text
