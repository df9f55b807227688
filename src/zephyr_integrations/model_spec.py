"""Chat models named on the command line: ``KIND:TARGET[,key=value...]``.

A model is given as ``KIND:TARGET[,key=value...]``:

- ``tgi:http://127.0.0.1:8080`` — ``ChatZephyr`` on a TGI server;
- ``transformers:./zephyr-folder`` — ``ChatZephyr`` on local Transformers (``dtype=...`` and
  ``device=...`` go to the backend);
- ``import:package.module:name`` — any LangChain chat model: ``name`` is a ``BaseChatModel`` or a
  function returning one.

Other keys are sampling parameters (``temperature``, ``top_p``, ``max_tokens``, ``seed``, ...),
plus ``label`` (the model's name in the rows), ``n`` (its answers per prompt) and ``api_key``
(the server's bearer token: kept in a ``SecretStr``, masked in every message). Values are read
as JSON when they parse (``0.7``, ``true``), else as text.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from zephyr_integrations.errors import validation_line

_BACKEND_KEYS = ("dtype", "device", "revision", "truncate")
_CONNECTION_KEYS = ("api_key",)  # set on the model, never per call, never shown
_KINDS = ("tgi", "transformers", "import")


def parse_model_spec(
    spec: str, *, params_on_model: bool = False
) -> tuple[Any, dict[str, Any], str | None, int | None]:
    """``KIND:TARGET[,key=value...]`` -> (chat model, sampling params, label, n).

    With ``params_on_model`` the sampling parameters are set on the model (a judge) instead of
    being returned for each call.
    """
    head, *pairs = spec.split(",")
    kind, sep, target = head.partition(":")
    if not sep or kind not in _KINDS or not target:
        raise ValueError(
            f"--model {spec!r}: expected KIND:TARGET with KIND one of {', '.join(_KINDS)} "
            "(e.g. tgi:http://127.0.0.1:8080,temperature=0.7)"
        )
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--model {spec!r}: {pair!r} is not key=value")
        params[key.strip()] = _value(value.strip())
    label = params.pop("label", None)
    n = params.pop("n", None)
    if label is not None:
        label = str(label)
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ValueError(f"--model {spec!r}: n={n!r} must be a positive integer")
    options = {key: params.pop(key) for key in _BACKEND_KEYS if key in params}
    connection = {key: str(params.pop(key)) for key in _CONNECTION_KEYS if key in params}
    fields = {**(params if params_on_model else {}), **connection}
    try:
        chat = _build(kind, target, options, fields, spec)
        if not params_on_model:
            _check_call_params(chat, params)
    except ValidationError as exc:
        raise ValueError(f"--model {spec!r}: {validation_line(exc)}") from None
    except (ValueError, TypeError) as exc:
        if str(exc).startswith("--model"):
            raise
        raise ValueError(f"--model {spec!r}: {exc}") from None
    return chat, ({} if params_on_model else params), label, n


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


def _build(
    kind: str, target: str, backend_kwargs: dict[str, Any], fields: dict[str, Any], spec: str
) -> Any:
    from langchain_core.language_models import BaseChatModel

    from zephyr_integrations import ChatZephyr

    if kind == "tgi":
        return ChatZephyr(backend="tgi", base_url=target, backend_kwargs=backend_kwargs, **fields)
    if kind == "transformers":
        if not Path(target).is_dir():
            raise ValueError(f"--model {spec!r}: {target} is not a model folder")
        return ChatZephyr(
            backend="transformers", model_name=target, backend_kwargs=backend_kwargs, **fields
        )
    if fields or backend_kwargs:
        unused = ", ".join(sorted({**fields, **backend_kwargs}))
        raise ValueError(f"--model {spec!r}: set {unused} on the imported model itself")
    module_name, sep, attribute = target.partition(":")
    if not sep:
        raise ValueError(f"--model {spec!r}: expected import:package.module:name")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(
            f"--model {spec!r}: cannot import {attribute!r} from {module_name} ({exc})"
        ) from exc
    model = found if isinstance(found, BaseChatModel) else found()
    if not isinstance(model, BaseChatModel):
        raise ValueError(f"--model {spec!r}: {target} is not a LangChain BaseChatModel")
    return model
