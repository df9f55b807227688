"""What a plugin registers for a backend: how to build it, which options it takes, and what
the TARGET of a ``KIND:TARGET`` model spec names.

Built-in backends register a `BackendDeclaration`; a plugin may too, or register a bare factory
(a class or function called as ``factory(model=..., **options)``), whose keyword parameters are
then its options. Everything that builds a backend by name (``ChatZephyr``, ``zephyr serve``,
``zephyr chat``, ``zephyr collect``, ``zephyr judge``) goes through the declaration, so a
third-party backend needs no special case anywhere.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from zephyr_integrations.backends.base import Backend

Target = Literal["model", "base_url"]


@dataclass(frozen=True)
class BackendDeclaration:
    """A backend as a plugin declares it.

    Args:
        build: called as ``build(model=..., **options)``; returns the backend.
        options: a (frozen) dataclass whose fields are the options the backend takes, each
            documented in its ``metadata["doc"]``; the backend validates them by building it.
            ``None``: ``build``'s keyword parameters are the options.
        target: what TARGET in ``KIND:TARGET`` names: ``"model"`` (a model folder or id) or
            ``"base_url"`` (the server, or several replicas joined with ``|``).
        summary: one line for listings (``zephyr backends``).
    """

    build: Callable[..., Backend]
    options: type | None = None
    target: Target = "model"
    summary: str = ""
    name: str = ""
    """The name it is registered under (set by the registry)."""

    def __post_init__(self) -> None:
        if self.options is not None and not dataclasses.is_dataclass(self.options):
            raise TypeError(f"options={self.options!r} is invalid: expected a dataclass")
        if self.target not in ("model", "base_url"):
            raise ValueError(f"target={self.target!r} is invalid: expected model or base_url")

    @classmethod
    def of(cls, registered: Any, name: str = "") -> BackendDeclaration:
        """``registered`` as a declaration named ``name`` (a bare factory gets one from its
        signature)."""
        if isinstance(registered, BackendDeclaration):
            return dataclasses.replace(registered, name=name or registered.name)
        if not callable(registered):
            raise TypeError(f"{registered!r} is neither a backend factory nor a declaration")
        names = _keywords(registered)
        target: Target = "base_url" if names is not None and "base_url" in names else "model"
        summary = (inspect.getdoc(registered) or "").split("\n", 1)[0]
        return cls(registered, None, target, summary, name)

    def __call__(self, model: str | None = None, **options: Any) -> Backend:
        self.check(options)
        return self.build(model=model, **options)

    @property
    def option_names(self) -> tuple[str, ...] | None:
        """The options the backend takes (``None``: any keyword)."""
        if self.options is not None:
            return tuple(f.name for f in dataclasses.fields(self.options))
        return _keywords(self.build)

    def option_docs(self) -> dict[str, str]:
        """Each option's one-line description (empty where the plugin gave none)."""
        if self.options is None:
            return dict.fromkeys(self.option_names or (), "")
        return {f.name: str(f.metadata.get("doc", "")) for f in dataclasses.fields(self.options)}

    def check(self, given: Mapping[str, Any], backend: str | None = None) -> None:
        """Raise one line naming an option the backend does not take, and those it takes."""
        names = self.option_names
        if names is None:
            return
        for key in given:
            if key not in names:
                raise ValueError(
                    f"{key!r} is not an option of backend "
                    f"{backend or self.name or getattr(self.build, '__name__', '?')!r}; its "
                    f"options: "
                    f"{', '.join(names) or 'none'}"
                )


def _keywords(factory: Callable[..., Any]) -> tuple[str, ...] | None:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    names = []
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        keyword = parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        if keyword and parameter.name not in ("self", "model"):
            names.append(parameter.name)
    return tuple(names)
