"""What can go wrong talking to TGI: the errors the backend raises, and which faults are retried."""

from __future__ import annotations

import httpx
from huggingface_hub.errors import HfHubHTTPError, OverloadedError

RETRY_STATUS = frozenset({429, 503})


class TGIError(RuntimeError):
    """TGI answered with an error (its message and error_type are kept)."""


class TGIConnectionError(ConnectionError):
    """The TGI server could not be reached."""


class PromptTooLongError(ValueError):
    """The prompt has more tokens than the server accepts."""


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, OverloadedError | httpx.ConnectError | ConnectionRefusedError):
        return True
    return http_status(exc) in RETRY_STATUS


def http_status(exc: BaseException | None) -> int | None:
    """The HTTP status behind an error (huggingface_hub chains TGI errors to the HTTP one)."""
    while exc is not None:
        response = getattr(exc, "response", None)
        if isinstance(exc, HfHubHTTPError) and response is not None:
            return int(response.status_code)
        exc = exc.__cause__
    return None


def server_message(exc: HfHubHTTPError) -> str:
    try:
        body = exc.response.json()
        if isinstance(body, dict) and "error" in body:
            return str(body["error"])
    except Exception:
        pass
    return str(exc).splitlines()[0]
