"""The project's extension points (pluggy hook specifications).

A plugin is any object or module with functions marked ``@hookimpl``; third-party packages
advertise theirs under the ``zephyr_integrations`` entry-point group. The built-in backends,
binarization strategies and exporters are registered through these same hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from zephyr_integrations.backends.base import Backend
from zephyr_integrations.backends.declaration import BackendDeclaration

if TYPE_CHECKING:
    import pyarrow as pa

    from zephyr_integrations.preferences.dataset_card import Provenance
    from zephyr_integrations.preferences.strategies import Answers, Pair, PairPolicy

PROJECT = "zephyr_integrations"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

BackendFactory = Callable[..., Backend]
"""Builds a backend: called as ``factory(model=..., **backend_kwargs)``."""

RegisterBackend = Callable[[str, "BackendFactory | BackendDeclaration"], None]
"""``register(name, factory_or_declaration)``: a `BackendDeclaration` names the backend's
options (a dataclass) and what a model spec's TARGET is; a bare factory's keyword parameters
are its options."""

Binarizer = Callable[["Answers", "PairPolicy"], "list[Pair] | str"]
"""Turns one prompt's scored answers into (chosen, rejected) index pairs, or a drop reason."""

RegisterBinarizer = Callable[[str, Binarizer], None]

Exporter = Callable[["Mapping[str, pa.Table]", Path, "Provenance"], None]
"""Writes splits (name -> table of pairs) into an empty folder; the caller makes it atomic."""

RegisterExporter = Callable[[str, Exporter], None]


@hookspec
def register_backends(register: RegisterBackend) -> Any:
    """Register backends by calling ``register(name, declaration)`` for each (a
    `BackendDeclaration`, or a bare factory)."""


@hookspec
def register_binarizers(register: RegisterBinarizer) -> Any:
    """Register binarization strategies by calling ``register(name, strategy)`` for each."""


@hookspec
def register_exporters(register: RegisterExporter) -> Any:
    """Register dataset export formats by calling ``register(name, exporter)`` for each."""
