"""The project's extension points (pluggy hook specifications).

A plugin is any object or module with functions marked ``@hookimpl``; third-party packages
advertise theirs under the ``zephyr_integrations`` entry-point group. The built-in backends,
binarization strategies, exporters, judges and sources are registered through these same hooks.

The registry sits above the domain: each contract is defined by the module that owns it and only
imported here, and nothing in the domain looks names up (the CLI and the quickstart do, through
:mod:`zephyr_integrations.plugins`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

from zephyr_integrations.backends.base import BackendFactory
from zephyr_integrations.backends.declaration import BackendDeclaration
from zephyr_integrations.preferences.judging import JudgeFactory
from zephyr_integrations.preferences.sources.base import Source
from zephyr_integrations.preferences.strategies import Binarizer

if TYPE_CHECKING:  # pyarrow is imported only when an export runs
    from zephyr_integrations.preferences.export import Exporter

PROJECT = "zephyr_integrations"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

RegisterBackend = Callable[[str, "BackendFactory | BackendDeclaration"], None]
"""``register(name, factory_or_declaration)``: a `BackendDeclaration` names the backend's
options (a dataclass) and what a model spec's TARGET is; a bare factory's keyword parameters
are its options."""
RegisterBinarizer = Callable[[str, Binarizer], None]
RegisterExporter = Callable[[str, "Exporter"], None]
RegisterJudge = Callable[[str, JudgeFactory], None]
RegisterSource = Callable[[str, Source], None]

__all__ = [
    "PROJECT",
    "BackendDeclaration",
    "BackendFactory",
    "Binarizer",
    "JudgeFactory",
    "RegisterBackend",
    "RegisterBinarizer",
    "RegisterExporter",
    "RegisterJudge",
    "RegisterSource",
    "Source",
    "hookimpl",
    "hookspec",
]


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


@hookspec
def register_judges(register: RegisterJudge) -> Any:
    """Register judges by calling ``register(name, factory)`` for each."""


@hookspec
def register_sources(register: RegisterSource) -> Any:
    """Register data sources (layouts ``zephyr import`` reads) by calling
    ``register(source.name, source)`` for each."""
