"""Chat models named on the command line: ``KIND:TARGET[,key=value...]``.

KIND is any registered backend (``zephyr_integrations.plugins``: ``tgi``, ``openai``,
``transformers``, or a plugin's), or ``import`` for any LangChain chat model. What TARGET names
comes from the backend's declaration:

- a server (``tgi:http://127.0.0.1:8080``, ``openai:http://127.0.0.1:8000``); several replicas
  of one model joined with ``|`` (``tgi:http://a:8080|http://b:8080``: ``,`` separates options);
- a model folder or Hub id (``transformers:./zephyr-folder``);
- for ``import:package.module:name``, a ``BaseChatModel`` or a function returning one.

Keys are the backend's own options (its declared options object: ``dtype``, ``device``,
``truncate``, ``server_kind``, ...), sampling parameters (``temperature``, ``top_p``,
``max_tokens``, ``seed``, ...), ``label`` (the model's name in the rows), ``n`` (its answers per
prompt) and ``api_key`` (the server's bearer token: kept in a ``SecretStr``, masked in every
message). An unknown key is refused naming it and listing the valid ones. Values are read as
JSON when they parse (``0.7``, ``true``), else as text.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from pydantic import ValidationError

from zephyr_integrations import plugins
from zephyr_integrations.backends.declaration import BackendDeclaration
from zephyr_integrations.call_options import SAMPLING
from zephyr_integrations.errors import validation_line
from zephyr_integrations.redact import redact_text

_SPEC_KEYS = ("label", "n")
_CONNECTION_KEYS = ("api_key",)  # set on the model, never per call, never shown
_NOT_OPTIONS = ("base_url", "timeout")  # TARGET, and the per-call deadline (a sampling key)


def parse_model_spec(
    spec: str, *, params_on_model: bool = False
) -> tuple[Any, dict[str, Any], str | None, int | None]:
    """``KIND:TARGET[,key=value...]`` -> (chat model, sampling params, label, n).

    With ``params_on_model`` the sampling parameters are set on the model (a judge) instead of
    being returned for each call.
    """
    head, *pairs = spec.split(",")
    kind, sep, target = head.partition(":")
    shown = redact_text(spec)
    if not sep or not kind or not target:
        raise ValueError(
            f"--model {shown!r}: expected KIND:TARGET with KIND a backend "
            f"({', '.join(sorted(plugins.backends()))}) or import "
            "(e.g. tgi:http://127.0.0.1:8080,temperature=0.7)"
        )
    params = parse_options(pairs, f"--model {shown!r}")
    label = params.pop("label", None)
    n = params.pop("n", None)
    if label is not None:
        label = str(label)
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"--model {shown!r}: n={n!r} must be a positive integer")
    try:
        if kind == "import":  # configured where it is made: only per-call parameters here
            secret = {k: v for k, v in params.items() if k in _CONNECTION_KEYS}
            on_model = params if params_on_model else secret
            chat = _imported(target, on_model, shown)
            return chat, ({} if params_on_model else params), label, n
        declaration = _declaration(kind, shown)
        options, fields, params = _split(params, declaration, kind)
        chat = _build(kind, declaration, target, options, {
            **(params if params_on_model else {}), **fields
        })  # fmt: skip
        if not params_on_model:
            _check_call_params(chat, params)
    except ValidationError as exc:
        raise ValueError(f"--model {shown!r}: {validation_line(exc)}") from None
    except (ValueError, TypeError, LookupError, OSError) as exc:
        if str(exc).startswith("--model"):
            raise
        raise ValueError(f"--model {shown!r}: {exc}") from None
    return chat, ({} if params_on_model else params), label, n


def _declaration(kind: str, shown: str) -> BackendDeclaration:
    try:
        return plugins.get_backend(kind)
    except plugins.UnknownBackendError:
        registered = ", ".join(sorted(plugins.backends()))
        raise ValueError(
            f"--model {shown!r}: {kind!r} is not a registered backend; expected KIND:TARGET "
            f"with KIND one of {registered} or import (install the plugin that provides it)"
        ) from None


def _split(
    params: dict[str, Any], declaration: BackendDeclaration, kind: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(backend options, connection fields, sampling parameters); an unknown key raises,
    naming it and every valid key."""
    declared = declaration.option_names
    options_keys = [k for k in declared or () if k not in _NOT_OPTIONS + _CONNECTION_KEYS]
    options: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    sampling: dict[str, Any] = {}
    for key, value in params.items():
        if key in SAMPLING or key == "stop":
            sampling[key] = value
        elif key in _CONNECTION_KEYS and (declared is None or key in declared):
            fields[key] = str(value)
        elif key in options_keys or (declared is None and key != "base_url"):
            options[key] = value
        else:
            valid = [*_SPEC_KEYS, *sorted(SAMPLING), "stop"]
            valid += [k for k in _CONNECTION_KEYS if declared is None or k in declared]
            valid += options_keys
            where = "TARGET gives it" if key == declaration.target else "unknown key"
            raise ValueError(
                f"{key!r} is not a key of backend {kind!r} ({where}); valid keys: "
                f"{', '.join(valid)}"
            )
    return options, fields, sampling


def _build(
    kind: str,
    declaration: BackendDeclaration,
    target: str,
    options: dict[str, Any],
    fields: dict[str, Any],
) -> Any:
    from zephyr_integrations import ChatZephyr

    if declaration.target == "base_url":
        servers = [url.strip() for url in target.split("|")]
        where: dict[str, Any] = {"base_url": servers if len(servers) > 1 else servers[0]}
    else:
        where = {"model_name": target}
    return ChatZephyr(backend=kind, backend_kwargs=options, **where, **fields)


def _check_call_params(chat: Any, params: dict[str, Any]) -> None:
    """Sampling parameters given per call are checked now, not on every call of the run."""
    from zephyr_integrations import ChatZephyr

    if isinstance(chat, ChatZephyr):
        chat._params(stop=None, **params)  # raises naming the parameter


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _imported(target: str, params: dict[str, Any], shown: str) -> Any:
    """``import:package.module:name``: a LangChain chat model, configured where it is made."""
    from langchain_core.language_models import BaseChatModel

    if params:
        unused = ", ".join(sorted(params))
        raise ValueError(f"--model {shown!r}: set {unused} on the imported model itself")
    module_name, sep, attribute = target.partition(":")
    if not sep:
        raise ValueError(f"--model {shown!r}: expected import:package.module:name")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(
            f"--model {shown!r}: cannot import {attribute!r} from {module_name} ({exc})"
        ) from exc
    model = found if isinstance(found, BaseChatModel) else found()
    if not isinstance(model, BaseChatModel):
        raise ValueError(f"--model {shown!r}: {target} is not a LangChain BaseChatModel")
    return model


def parse_options(pairs: list[str], where: str) -> dict[str, Any]:
    """``key=value`` texts (values read as JSON when they parse, else as text) -> options; a
    text without ``=`` raises naming ``where`` (the flag)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{where}: {redact_text(pair)!r} is not key=value")
        options[key.strip()] = _value(value.strip())
    return options
