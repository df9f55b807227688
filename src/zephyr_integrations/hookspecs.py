"""The project's extension points (pluggy hook specifications).

A plugin is any object or module with functions marked ``@hookimpl``; third-party packages
advertise theirs under the ``zephyr_integrations`` entry-point group. The built-in backends are
registered through these same hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

from zephyr_integrations.backends.base import Backend

PROJECT = "zephyr_integrations"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

BackendFactory = Callable[..., Backend]
"""Builds a backend: called as ``factory(model=..., **backend_kwargs)``."""

RegisterBackend = Callable[[str, BackendFactory], None]


@hookspec
def register_backends(register: RegisterBackend) -> Any:
    """Register backends by calling ``register(name, factory)`` for each."""
