"""Registers the built-in binarization strategies: ``zephyr``, ``best_vs_worst``, ``all_pairs``."""

from __future__ import annotations

from zephyr_integrations.hookspecs import RegisterBinarizer, hookimpl
from zephyr_integrations.preferences.strategies import BUILTIN_BINARIZERS


@hookimpl
def register_binarizers(register: RegisterBinarizer) -> None:
    for name, strategy in BUILTIN_BINARIZERS.items():
        register(name, strategy)
