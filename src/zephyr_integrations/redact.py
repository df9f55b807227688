"""Keeping secrets out of what is shown: URL passwords, ``api_key=`` values, known secrets.

Everything that prints a URL, a model spec or a child process's output passes it through here
first, so a secret never reaches a message, a repr or a log file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://user:password@host -> scheme://user:***@host (anywhere in a text)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*):(?P<pw>[^\s/@]*)@")
# api_key=..., token: ..., "password": "..." and the like, up to a separator
_KEY_VALUE = re.compile(
    r"(?P<key>\b(?:api[_-]?key|token|password|secret|auth[_-]?secret[_-]?key)\b"
    r"[\"']?\s*[=:]\s*[\"']?)(?P<value>[^\s,\"'}&]+)",
    re.IGNORECASE,
)
# Bearer tokens in headers
_BEARER = re.compile(r"(?P<key>\bBearer\s+)(?P<value>[A-Za-z0-9._~+/=-]+)")


def redact_url(url: str) -> str:
    """``url`` with the password of its user part replaced: ``http://user:***@host/path``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every given secret, URL password, ``api_key=``-style value and bearer
    token masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", text)
    text = _KEY_VALUE.sub(lambda m: f"{m['key']}{MASK}", text)
    return _BEARER.sub(lambda m: f"{m['key']}{MASK}", text)
