"""Registers the local Transformers backend as ``transformers``."""

from __future__ import annotations

from zephyr_integrations.backends.declaration import BackendDeclaration
from zephyr_integrations.backends.hf_options import TransformersOptions
from zephyr_integrations.backends.transformers import TransformersBackend
from zephyr_integrations.hookspecs import RegisterBackend, hookimpl


@hookimpl
def register_backends(register: RegisterBackend) -> None:
    register(
        "transformers",
        BackendDeclaration(
            TransformersBackend, TransformersOptions, "model", "a model on this machine"
        ),
    )
