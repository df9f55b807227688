"""Registers the built-in judges."""

from __future__ import annotations

from zephyr_integrations.hookspecs import RegisterJudge, hookimpl


@hookimpl
def register_judges(register: RegisterJudge) -> None:
    """The built-in judges (filled in as they land)."""
