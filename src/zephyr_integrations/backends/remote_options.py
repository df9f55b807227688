"""The options of the HTTP backends, as validated value objects (no network, no aiohttp).

`RemoteOptions` says how to reach a server (every HTTP backend takes it); `TGIOptions` and
`OpenAIOptions` add what one backend alone takes. Each checks its fields when created and
raises one line naming the field; ``api_key`` is a ``SecretStr``, never shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from zephyr_integrations.redact import redact_url

DEFAULT_MAX_CONNECTIONS = 256
SERVER_KINDS: tuple[str, ...] = ("vllm", "sglang", "llamacpp", "tgi")
"""OpenAI-compatible server kinds whose structured-output mechanism is known."""


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@dataclass(frozen=True)
class RemoteOptions:
    """How to reach a server: a value object, validated on creation, secrets never shown.

    ``base_url`` may name several replicas of one model, comma-separated (or as a list):
    each request goes to the least busy one, and one that refuses connections is skipped.
    """

    base_url: str = field(
        metadata=_doc("the server: http(s)://host[:port]; replicas of one model joined with |")
    )
    api_key: SecretStr | None = field(
        default=None, repr=False, metadata=_doc("bearer token; never shown")
    )
    timeout: float = field(
        default=120.0, metadata=_doc("seconds the whole call may take (a deadline)")
    )
    max_retries: int = field(default=2, metadata=_doc("retries of transient failures"))
    backoff: float = field(
        default=0.25, metadata=_doc("first retry's wait in seconds (doubling, with jitter)")
    )
    max_backoff: float = field(default=8.0, metadata=_doc("longest wait between retries"))
    max_connections: int = field(
        default=DEFAULT_MAX_CONNECTIONS, metadata=_doc("connections kept per event loop")
    )

    def __post_init__(self) -> None:
        urls: Any = self.base_url
        if isinstance(urls, str) and ("," in urls or "|" in urls):
            urls = [url.strip() for url in urls.replace("|", ",").split(",")]
        if isinstance(urls, list | tuple):
            if not urls:
                raise ValueError("base_url=[] is invalid: expected at least one server")
            urls = ",".join(dict.fromkeys(check_url(url) for url in urls))
        object.__setattr__(self, "base_url", urls if "," in str(urls) else check_url(urls))
        if isinstance(self.api_key, str):
            object.__setattr__(self, "api_key", SecretStr(self.api_key))
        _positive("timeout", self.timeout)
        _positive("backoff", self.backoff, allow_zero=True)
        _positive("max_backoff", self.max_backoff, allow_zero=True)
        for name in ("max_retries", "max_connections"):
            value = getattr(self, name)
            low = 0 if name == "max_retries" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}={value!r} is invalid: expected an integer >= {low}")

    @property
    def replicas(self) -> tuple[str, ...]:
        """The servers ``base_url`` names (one, or several replicas)."""
        return tuple(self.base_url.split(","))

    def headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self.api_key is not None:
            headers["authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return headers


@dataclass(frozen=True)
class TGIOptions(RemoteOptions):
    """A TGI server's options: `RemoteOptions` plus ``truncate``."""

    truncate: bool = field(
        default=False, metadata=_doc("cut over-long prompts server-side instead of refusing")
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.truncate, bool):
            raise ValueError(f"truncate={self.truncate!r} is invalid: expected true or false")


@dataclass(frozen=True)
class OpenAIOptions(RemoteOptions):
    """An OpenAI-compatible server's options: `RemoteOptions` plus ``server_kind``."""

    server_kind: str | None = field(
        default=None,
        metadata=_doc(
            "vllm, sglang, llamacpp or tgi: how structured output is asked for "
            "(default: detected from the server)"
        ),
    )

    def __post_init__(self) -> None:
        urls: Any = self.base_url
        if isinstance(urls, str):
            urls = urls.replace("|", ",").split(",")
        if isinstance(urls, list | tuple):  # a trailing /v1 is accepted on each
            trimmed = [u.strip().rstrip("/").removesuffix("/v1") if isinstance(u, str) else u
                       for u in urls]  # fmt: skip
            object.__setattr__(self, "base_url", trimmed)
        super().__post_init__()
        if self.server_kind is not None and self.server_kind not in SERVER_KINDS:
            raise ValueError(
                f"server_kind={self.server_kind!r} is invalid: expected one of "
                f"{', '.join(SERVER_KINDS)} (or unset: detected from the server)"
            )


def check_url(url: Any) -> str:
    if not isinstance(url, str):
        raise ValueError(f"base_url={url!r} is invalid: expected http(s)://host[:port]")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = redact_url(url)
        raise ValueError(f"base_url={shown!r} is invalid: expected http(s)://host[:port]")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"base_url={redact_url(url)!r} is invalid: {exc}") from exc
    return url.rstrip("/")


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or math.isnan(value) or value < 0 or (value == 0 and not allow_zero):
        expected = "a number >= 0" if allow_zero else "a positive number"
        raise ValueError(f"{name}={value!r} is invalid: expected {expected}")
