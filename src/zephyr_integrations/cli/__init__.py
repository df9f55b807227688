"""The `zephyr` command: one module per group of sub-commands, registered on one Typer app."""

from __future__ import annotations

import zephyr_integrations.cli.annotate  # registers annotate up/status/down/push/pull
import zephyr_integrations.cli.data  # noqa: F401  (registers binarize, export, report)
from zephyr_integrations.cli import (
    collect,  # noqa: F401  (registers collect, judge)
    serving,  # noqa: F401  (registers serve, chat)
)
from zephyr_integrations.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    app()
