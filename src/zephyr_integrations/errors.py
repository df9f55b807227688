"""The project's error family: every failure a backend raises derives from `ZephyrError`.

Each kind also derives from the closest builtin, so ``except ConnectionError`` /
``except TimeoutError`` / ``except ValueError`` keep working, and LangChain's
``with_retry(retry_if_exception_type=...)`` and ``with_fallbacks(exceptions_to_handle=...)`` can
target one kind::

    llm.with_retry(retry_if_exception_type=(ZephyrOverloadedError,))

Messages name the server once; ``url``, ``status`` (HTTP), ``error_type`` (TGI's) and
``server_message`` (the server's own words) are kept as attributes.
"""

from __future__ import annotations

from typing import Any


class ZephyrError(Exception):
    """Base of every error a zephyr-integrations backend raises."""

    retryable: bool = False
    """Whether trying again may succeed (the remote layer retries these, then raises them)."""

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        error_type: str | None = None,
        server_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.error_type = error_type
        self.server_message = server_message
        self.retry_after = retry_after
        """Seconds the server asked to wait before trying again (``Retry-After``)."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields survive pickling (LangChain tracing and multiprocessing copy errors).
        fields = {
            "url": self.url,
            "status": self.status,
            "error_type": self.error_type,
            "server_message": self.server_message,
            "retry_after": self.retry_after,
        }
        return (_rebuild, (type(self), str(self), fields))


def _rebuild(cls: type[ZephyrError], message: str, fields: dict[str, Any]) -> ZephyrError:
    error = cls.__new__(cls)
    ZephyrError.__init__(error, message, **fields)
    return error


class ZephyrConnectionError(ZephyrError, ConnectionError):
    """The server could not be reached (refused, reset, DNS), after retries."""

    retryable = True


class ZephyrTimeoutError(ZephyrError, TimeoutError):
    """The call did not finish within its ``timeout`` (a deadline for the whole call)."""


class ZephyrOverloadedError(ZephyrError, ConnectionError):
    """The server is overloaded, rate-limiting or not ready yet (HTTP 429 / 503, TGI's
    ``overloaded`` event), still so after the retries."""

    retryable = True


class ZephyrValidationError(ZephyrError, ValueError):
    """The server (or the client, before sending) refused the request's input or parameters;
    ``server_message`` keeps the server's words."""


class ZephyrAuthenticationError(ZephyrError, PermissionError):
    """The server refused the credentials (HTTP 401 / 403)."""


class ZephyrModelNotFoundError(ZephyrError, LookupError):
    """The server does not serve the requested model (or has no such route)."""


class ZephyrGenerationError(ZephyrError, RuntimeError):
    """The server failed while generating (TGI's ``generation`` / ``incomplete_generation``)."""


class ZephyrResponseError(ZephyrError, RuntimeError):
    """The answer could not be used: not HTTP, not JSON, fields missing, an error object in a
    successful reply, a body cut short, or an error status no other kind describes."""


class ZephyrTransientResponseError(ZephyrResponseError):
    """A response error that trying again may cure (a cut body, a 502 / 504 from a proxy)."""

    retryable = True


_BY_ERROR_TYPE: dict[str, type[ZephyrError]] = {
    "validation": ZephyrValidationError,
    "template_error": ZephyrValidationError,
    "tool_error": ZephyrValidationError,
    "invalid_request_error": ZephyrValidationError,
    "BadRequestError": ZephyrValidationError,
    "overloaded": ZephyrOverloadedError,
    "unavailable": ZephyrOverloadedError,
    "healthcheck": ZephyrOverloadedError,
    "generation": ZephyrGenerationError,
    "incomplete_generation": ZephyrGenerationError,
    "incomplete_generation_stream": ZephyrGenerationError,
    "authentication_error": ZephyrAuthenticationError,
    "NotFoundError": ZephyrModelNotFoundError,
}

_BY_STATUS: dict[int, type[ZephyrError]] = {
    400: ZephyrValidationError,
    401: ZephyrAuthenticationError,
    403: ZephyrAuthenticationError,
    404: ZephyrModelNotFoundError,
    408: ZephyrTimeoutError,
    413: ZephyrValidationError,
    422: ZephyrValidationError,
    424: ZephyrGenerationError,
    429: ZephyrOverloadedError,
    502: ZephyrTransientResponseError,
    503: ZephyrOverloadedError,
    504: ZephyrTransientResponseError,
}


def error_kind(status: int | None, error_type: str | None) -> type[ZephyrError]:
    """The error class for an HTTP status and a server's ``error_type`` (the type wins)."""
    if error_type is not None and error_type in _BY_ERROR_TYPE:
        return _BY_ERROR_TYPE[error_type]
    if status is not None and status in _BY_STATUS:
        return _BY_STATUS[status]
    if status is not None and status >= 500:
        return ZephyrGenerationError if status == 500 else ZephyrResponseError
    return ZephyrResponseError


def server_error(
    url: str,
    status: int | None,
    body: Any,
    *,
    retry_after: float | None = None,
) -> ZephyrError:
    """The error for a server's error reply (``status`` None: an in-band event of a stream).

    ``body`` is the parsed JSON or the text of the reply. Both TGI's ``{"error", "error_type"}``
    and the OpenAI shape ``{"error": {"message", "type", "code"}}`` are read.
    """
    message, error_type = read_error_body(body)
    kind = error_kind(status, error_type)
    where = f"the stream from {url} failed"
    if status is not None:
        where = f"{url} answered HTTP {status}"
    detail = f": {message}" if message else ""
    kind_note = f" ({error_type})" if error_type else ""
    return kind(
        f"{where}{kind_note}{detail}",
        url=url,
        status=status,
        error_type=error_type,
        server_message=message or None,
        retry_after=retry_after,
    )


def read_error_body(body: Any) -> tuple[str, str | None]:
    """``(message, error_type)`` of an error body of any of the shapes servers send."""
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):  # OpenAI's shape, TGI's chat stream errors
            message = str(error.get("message") or "")
            kind = error.get("type") or error.get("code")
            return message, str(kind) if isinstance(kind, str) else None
        error_type = body.get("error_type")
        message = "" if error is None else str(error)
        return message, str(error_type) if error_type is not None else None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = str(body or "").strip()
    return (text[:300] + "...") if len(text) > 300 else text, None


__all__ = [
    "ZephyrAuthenticationError",
    "ZephyrConnectionError",
    "ZephyrError",
    "ZephyrGenerationError",
    "ZephyrModelNotFoundError",
    "ZephyrOverloadedError",
    "ZephyrResponseError",
    "ZephyrTimeoutError",
    "ZephyrTransientResponseError",
    "ZephyrValidationError",
    "error_kind",
    "read_error_body",
    "server_error",
]


def validation_line(exc: Any) -> str:
    """A pydantic ValidationError as ``field: problem; ...``, never with the input values."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        message = str(error.get("msg", "invalid"))
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        location = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "invalid value"
