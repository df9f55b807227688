"""What can go wrong talking to TGI, translated into the project's error family."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from huggingface_hub.errors import (
    GenerationError,
    HfHubHTTPError,
    IncompleteGenerationError,
    InferenceTimeoutError,
    OverloadedError,
    TextGenerationError,
    ValidationError,
)

from zephyr_integrations.errors import (
    ZephyrConnectionError,
    ZephyrError,
    ZephyrResponseError,
    ZephyrTimeoutError,
    ZephyrTransientResponseError,
    ZephyrValidationError,
    server_error,
)

TGIError = ZephyrError
"""Kept for existing ``except TGIError`` clauses: every TGI failure is a `ZephyrError`."""
TGIConnectionError = ZephyrConnectionError


class PromptTooLongError(ZephyrValidationError):
    """The prompt has more tokens than the server accepts."""


_HUB_ERROR_TYPES: tuple[tuple[type[Exception], str], ...] = (
    (ValidationError, "validation"),
    (GenerationError, "generation"),
    (OverloadedError, "overloaded"),
    (IncompleteGenerationError, "incomplete_generation"),
)


def translate(exc: BaseException, url: str, timeout: float) -> ZephyrError:
    """The project error for ``exc``, raised while talking to the server at ``url``."""
    if isinstance(exc, ZephyrError):
        return exc
    if isinstance(exc, httpx.ConnectError | ConnectionError):
        reason = str(exc).removeprefix("[Errno 111] ")
        return ZephyrConnectionError(f"could not connect to {url} ({reason})", url=url)
    if isinstance(exc, InferenceTimeoutError | httpx.TimeoutException | asyncio.TimeoutError):
        return ZephyrTimeoutError(f"{url} did not answer within timeout={timeout} s", url=url)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return ZephyrTransientResponseError(f"the answer from {url} was cut: {exc}", url=url)
    # huggingface_hub chains a TGI error to the HTTP error that carried it (one link only).
    response = getattr(exc, "response", None) or getattr(exc.__cause__, "response", None)
    status = int(response.status_code) if response is not None else None
    if isinstance(exc, TextGenerationError):
        error_type = next((kind for cls, kind in _HUB_ERROR_TYPES if isinstance(exc, cls)), None)
        message = str(exc).splitlines()[0]
        return server_error(url, status, {"error": message, "error_type": error_type})
    if isinstance(exc, HfHubHTTPError | httpx.HTTPStatusError) and response is not None:
        return server_error(url, status, _body(response))
    return ZephyrResponseError(f"the answer from {url} could not be read: {exc!r}", url=url)


def _body(response: Any) -> Any:
    try:
        return response.json()
    except Exception:
        try:
            return response.text
        except Exception:
            return ""
