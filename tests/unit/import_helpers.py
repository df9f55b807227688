"""What the `zephyr import` tests share: writing JSON lines, running the CLI in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from zephyr_integrations.cli import app

ENV = {"COLUMNS": "250", "NO_COLOR": "1"}


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run(*args: str) -> Any:
    """``zephyr ARGS...`` in this process; the result has ``exit_code``, ``stderr``, ``output``."""
    return CliRunner(env=ENV).invoke(app, list(args))
