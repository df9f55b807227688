"""The one plugin manager, and the registries it fills: backends, binarizers, exporters, judges,
sources."""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

import pluggy

from zephyr_integrations import hookspecs
from zephyr_integrations.backends.declaration import BackendDeclaration
from zephyr_integrations.hookspecs import BackendFactory, Binarizer, JudgeFactory, Source

if TYPE_CHECKING:
    from zephyr_integrations.preferences.export import Exporter

DEFAULT_PLUGINS = (
    "zephyr_integrations.default_plugins.transformers_backend",
    "zephyr_integrations.default_plugins.tgi_backend",
    "zephyr_integrations.default_plugins.openai_backend",
    "zephyr_integrations.default_plugins.binarizers",
    "zephyr_integrations.default_plugins.exporters",
    "zephyr_integrations.default_plugins.judges",
    "zephyr_integrations.default_plugins.sources",
)

pm = pluggy.PluginManager(hookspecs.PROJECT)
pm.add_hookspecs(hookspecs)

_load_lock = threading.Lock()
_loaded = False


class UnknownNameError(ValueError):
    """A name no plugin registered."""


class DuplicateNameError(ValueError):
    """Two plugins registered the same name for the same hook."""


class UnknownBackendError(UnknownNameError):
    """A backend name no plugin registered."""


class DuplicateBackendError(DuplicateNameError):
    """Two plugins registered the same backend name."""


class UnknownBinarizerError(UnknownNameError):
    """A binarization strategy no plugin registered."""


class UnknownExporterError(UnknownNameError):
    """An export format no plugin registered."""


class UnknownJudgeError(UnknownNameError):
    """A judge no plugin registered."""


class UnknownSourceError(UnknownNameError):
    """A data source (layout) no plugin registered."""


def load_plugins() -> pluggy.PluginManager:
    """Register the built-in plugins and those installed under the entry-point group (once)."""
    global _loaded
    if _loaded:
        return pm
    with _load_lock:
        if not _loaded:
            import importlib

            for name in DEFAULT_PLUGINS:
                module = importlib.import_module(name)
                if not pm.is_registered(module):
                    pm.register(module, name=name)
            pm.load_setuptools_entrypoints(hookspecs.PROJECT)
            _loaded = True
    return pm


def backend_factories() -> dict[str, BackendFactory]:
    """Every registered backend, by name, as what its plugin registered."""
    load_plugins()
    return _collect("register_backends", "backend", tuple(pm.get_plugins()))


def backends() -> dict[str, BackendDeclaration]:
    """Every registered backend, by name, as its declaration (options, what TARGET names)."""
    return {name: BackendDeclaration.of(found, name) for name, found in backend_factories().items()}


def binarizers() -> dict[str, Binarizer]:
    """Every registered binarization strategy, by name."""
    load_plugins()
    return _collect("register_binarizers", "binarizer", tuple(pm.get_plugins()))


def exporters() -> dict[str, Exporter]:
    """Every registered export format, by name."""
    load_plugins()
    return _collect("register_exporters", "exporter", tuple(pm.get_plugins()))


def judge_factories() -> dict[str, JudgeFactory]:
    """Every registered judge, by name."""
    load_plugins()
    return _collect("register_judges", "judge", tuple(pm.get_plugins()))


def sources() -> dict[str, Source]:
    """Every registered data source (a layout ``zephyr import`` reads), by name."""
    load_plugins()
    return _collect("register_sources", "source", tuple(pm.get_plugins()))


@cache
def _collect(hook: str, kind: str, plugins: tuple[object, ...]) -> dict[str, Any]:
    found: dict[str, tuple[Any, str]] = {}
    duplicate = DuplicateBackendError if kind == "backend" else DuplicateNameError

    for impl in getattr(pm.hook, hook).get_hookimpls():

        def register(name: str, value: Any, _plugin: str = impl.plugin_name) -> None:
            if not isinstance(name, str) or not name:
                raise ValueError(f"plugin {_plugin!r} registered a {kind} with no name")
            if name in found:
                raise duplicate(
                    f"{kind} {name!r} is registered by both {found[name][1]!r} and {_plugin!r}"
                )
            found[name] = (value, _plugin)

        impl.function(register=register)
    return {name: value for name, (value, _plugin) in found.items()}


def _lookup(registry: dict[str, Any], kind: str, name: str, error: type[UnknownNameError]) -> Any:
    try:
        return registry[name]
    except KeyError:
        raise error(
            f"{kind} {name!r} is not registered; registered {kind}s: "
            f"{', '.join(sorted(registry)) or 'none'} (install the plugin that provides it)"
        ) from None


def get_backend(name: str) -> BackendDeclaration:
    """The declaration of backend ``name``: how to build it, its options, what TARGET names."""
    found = _lookup(backend_factories(), "backend", name, UnknownBackendError)
    return BackendDeclaration.of(found, name)


def get_backend_factory(name: str) -> BackendFactory:
    """Backend ``name``'s factory: ``factory(model=..., **options)``, options checked."""
    return get_backend(name)


def get_binarizer(name: str) -> Binarizer:
    strategy: Binarizer = _lookup(binarizers(), "binarizer", name, UnknownBinarizerError)
    return strategy


def get_exporter(name: str) -> Exporter:
    exporter: Exporter = _lookup(exporters(), "exporter", name, UnknownExporterError)
    return exporter


def get_judge_factory(name: str) -> JudgeFactory:
    factory: JudgeFactory = _lookup(judge_factories(), "judge", name, UnknownJudgeError)
    return factory


def get_source(name: str) -> Source:
    source: Source = _lookup(sources(), "source", name, UnknownSourceError)
    return source
