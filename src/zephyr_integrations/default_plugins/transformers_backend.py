"""Registers the local Transformers backend as ``transformers``."""

from __future__ import annotations

from zephyr_integrations.backends.transformers import TransformersBackend
from zephyr_integrations.hookspecs import RegisterBackend, hookimpl


@hookimpl
def register_backends(register: RegisterBackend) -> None:
    register("transformers", TransformersBackend)
