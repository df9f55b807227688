"""Error replies of the TGI-protocol server: TGI's JSON errors and axum's plain-text refusals.

A reply other than success is raised as :class:`ProtocolError` anywhere in request handling and
written by the HTTP layer; ``body`` is a dict (JSON) or a str (``text/plain``), as TGI's router
answers.
"""

from __future__ import annotations

import json
from typing import Any

Json = dict[str, Any]

ERROR_STATUS = {"validation": 422, "template_error": 422, "tool_error": 422, "generation": 424}
ERROR_STATUS |= {"overloaded": 429, "incomplete_generation": 500, "unavailable": 503}


class ProtocolError(Exception):
    """A reply other than success: ``body`` is JSON (a dict) or ``text/plain`` (a str)."""

    def __init__(
        self, status: int, body: Json | str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(body if isinstance(body, str) else body.get("error", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}


def error_body(message: str, error_type: str) -> Json:
    return {"error": message, "error_type": error_type}


def failure(error_type: str, message: str) -> ProtocolError:
    return ProtocolError(ERROR_STATUS.get(error_type, 500), error_body(message, error_type))


def invalid(message: str) -> ProtocolError:
    """TGI's input validation error (422, ``validation``)."""
    return failure("validation", f"Input validation error: {message}")


def undeserializable(message: str) -> ProtocolError:
    """axum's answer to a body that does not fit TGI's types (422, text/plain)."""
    return ProtocolError(
        422, f"Failed to deserialize the JSON body into the target type: {message}"
    )


def parse_json_body(raw: bytes, content_type: str | None) -> Any:
    """The JSON body, or axum's 415 (wrong content type) / 400 (not JSON)."""
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime != "application/json" and not mime.endswith("+json"):
        raise ProtocolError(415, "Expected request with `Content-Type: application/json`")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(400, f"Failed to parse the request body as JSON: {exc}") from exc
