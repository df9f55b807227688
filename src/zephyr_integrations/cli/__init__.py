"""The `zephyr` command: one module per group of sub-commands, registered on one Typer app."""

from __future__ import annotations

# Each module registers its commands on `app` when imported.
from zephyr_integrations.cli import (  # noqa: F401
    annotate,  # annotate up / status / down / push / pull
    collect,  # collect
    data,  # binarize, export, report
    judge,  # judge
    quickstart,  # quickstart
    serving,  # serve, chat
)
from zephyr_integrations.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    app()
