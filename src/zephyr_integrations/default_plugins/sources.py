"""Registers the built-in data sources: ``ultrafeedback``, ``ultrafeedback_binarized``, ``trl``."""

from __future__ import annotations

from zephyr_integrations.hookspecs import RegisterSource, hookimpl
from zephyr_integrations.preferences.sources import BUILTIN_SOURCES


@hookimpl
def register_sources(register: RegisterSource) -> None:
    for name, source in BUILTIN_SOURCES.items():
        register(name, source)
