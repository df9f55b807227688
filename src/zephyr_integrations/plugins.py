"""The one plugin manager, and the registry of backends it fills."""

from __future__ import annotations

import threading
from functools import cache

import pluggy

from zephyr_integrations import hookspecs
from zephyr_integrations.hookspecs import BackendFactory

DEFAULT_PLUGINS = (
    "zephyr_integrations.default_plugins.transformers_backend",
    "zephyr_integrations.default_plugins.tgi_backend",
)

pm = pluggy.PluginManager(hookspecs.PROJECT)
pm.add_hookspecs(hookspecs)

_load_lock = threading.Lock()
_loaded = False


class UnknownBackendError(ValueError):
    """A backend name no plugin registered."""


class DuplicateBackendError(ValueError):
    """Two plugins registered the same backend name."""


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
    """Every registered backend, by name."""
    load_plugins()
    return _collect(tuple(pm.get_plugins()))


@cache
def _collect(plugins: tuple[object, ...]) -> dict[str, BackendFactory]:
    found: dict[str, tuple[BackendFactory, str]] = {}

    for impl in pm.hook.register_backends.get_hookimpls():

        def register(name: str, factory: BackendFactory, _plugin: str = impl.plugin_name) -> None:
            if not isinstance(name, str) or not name:
                raise ValueError(f"plugin {_plugin!r} registered a backend with no name")
            if name in found:
                raise DuplicateBackendError(
                    f"backend {name!r} is registered by both {found[name][1]!r} and {_plugin!r}"
                )
            found[name] = (factory, _plugin)

        impl.function(register=register)
    return {name: factory for name, (factory, _plugin) in found.items()}


def get_backend_factory(name: str) -> BackendFactory:
    factories = backend_factories()
    try:
        return factories[name]
    except KeyError:
        raise UnknownBackendError(
            f"backend {name!r} is not registered; registered backends: "
            f"{', '.join(sorted(factories)) or 'none'} (install the plugin that provides it)"
        ) from None
