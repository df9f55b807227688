"""One remote layer under every HTTP backend: pooling, deadlines, retries, error translation.

A backend (TGI, OpenAI-compatible) only shapes request bodies and reads answers; this module
moves them:

- **Pooling**: one aiohttp session per event loop, at most ``max_connections`` connections kept
  alive. A session is closed when its event loop shuts down (``asyncio.run`` ends), so no
  descriptor outlives its loop; an ``http://`` session builds no TLS context.
- **Deadlines**: ``timeout`` bounds the whole call (connecting, queueing, every read, a whole
  stream, the waits between retries) and raises `ZephyrTimeoutError`.
- **Retries**: failures marked ``retryable`` (refused connections, 429, 503, 502, 504, a cut
  body, an in-band ``overloaded`` event before anything was yielded) are tried again with
  exponential backoff and jitter, honouring ``Retry-After``, within the deadline.
- **Errors**: everything is raised as a `ZephyrError` naming the URL once.

Sync callers run the same coroutines on one private event-loop thread (`run_sync`,
`iterate_sync`, in `remote_loops`), so sync and async share one implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import math
import random
import sys
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from zephyr_integrations.backends.remote_loops import POOL
from zephyr_integrations.backends.remote_options import (
    DEFAULT_MAX_CONNECTIONS,
    RemoteOptions,
    check_url,
)
from zephyr_integrations.errors import (
    ZephyrConnectionError,
    ZephyrError,
    ZephyrResponseError,
    ZephyrTimeoutError,
    ZephyrTransientResponseError,
    server_error,
)
from zephyr_integrations.redact import redact_url

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "Deadline",
    "RemoteClient",
    "RemoteOptions",
    "Reply",
    "check_url",
]

if sys.version_info >= (3, 11):
    from asyncio import timeout as _within
else:  # pragma: no cover - aiohttp depends on async-timeout before 3.11
    from async_timeout import timeout as _within

T = TypeVar("T")
_SNIPPET = 200
_BENCHED_FOR = 5.0
"""Seconds a replica that refused a connection is passed over (unless all are)."""


@dataclass(frozen=True)
class Reply:
    """A successful JSON answer."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: Any


class Deadline:
    """The moment a call must be over by (monotonic clock)."""

    def __init__(self, seconds: float, url: str) -> None:
        self.seconds = seconds
        self.url = redact_url(url)
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def error(self) -> ZephyrTimeoutError:
        return ZephyrTimeoutError(
            f"{self.url} did not answer within timeout={self.seconds:g} s", url=self.url
        )

    async def within(self, awaitable: Awaitable[T]) -> T:
        """``awaitable``'s result, or `ZephyrTimeoutError` once the deadline passes."""
        remaining = self.remaining()
        if remaining <= 0:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise self.error()
        try:
            async with _within(remaining):
                return await awaitable
        except TimeoutError:
            raise self.error() from None


class RemoteClient:
    """Requests to one server, with the options of `RemoteOptions`."""

    def __init__(self, options: RemoteOptions) -> None:
        self.options = options
        self.replicas = options.replicas
        self._busy = dict.fromkeys(self.replicas, 0)
        self._down_until = dict.fromkeys(self.replicas, 0.0)

    def __getstate__(self) -> dict[str, Any]:
        return {"options": self.options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["options"])  # type: ignore[misc]

    def url(self, path: str) -> str:
        """``path`` on the (first) server, for messages (a password in it masked)."""
        return redact_url(f"{self.replicas[0]}{path}")

    def pick(self) -> str:
        """The least busy replica among those not refusing connections lately."""
        if len(self.replicas) == 1:
            return self.replicas[0]
        now = time.monotonic()
        up = [url for url in self.replicas if self._down_until[url] <= now] or self.replicas
        return min(up, key=self._busy.__getitem__)

    def deadline(self, timeout: float | None = None) -> Deadline:
        return Deadline(self.options.timeout if timeout is None else timeout, self.options.base_url)

    # -- calls --------------------------------------------------------------------------------

    async def request_json(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        deadline: Deadline,
        replica: str | None = None,
    ) -> Reply:
        """Send ``body`` as JSON and read a JSON answer, retried as the module says (on the
        least busy replica each time, unless ``replica`` names one)."""

        async def attempt() -> Reply:
            base = replica or self.pick()
            with self._using(base):
                return await self._exchange(method, base, base + path, body, deadline)

        return await self._retrying(deadline, attempt)

    async def stream_events(
        self, path: str, body: Any, *, deadline: Deadline
    ) -> AsyncGenerator[Any, None]:
        """POST ``body`` and yield the JSON payload of each Server-Sent Event.

        ``data:`` with or without a space, ``:`` comments, multi-line data and ``[DONE]`` are
        understood. An in-band error event (``{"error": ...}``) is raised as its project error;
        a retryable one is retried while nothing has been yielded yet.
        """
        tries = 0
        while True:
            yielded = False
            base = self.pick()
            try:
                with self._using(base):
                    async for event in self._stream_once(base, base + path, body, deadline):
                        yielded = True
                        yield event
                return
            except ZephyrError as error:
                if yielded:
                    raise
                await self._pause_or_raise(error, tries, deadline)
                tries += 1

    async def aclose(self) -> None:
        """Close this event loop's connections now (they are also closed when it shuts down)."""
        for base in self.replicas:
            await POOL.close(asyncio.get_running_loop(), base, self.options.max_connections)

    @contextlib.contextmanager
    def _using(self, base: str) -> Iterator[None]:
        """Count a request on replica ``base``; a refused connection benches it a while."""
        self._busy[base] += 1
        try:
            yield
        except ZephyrConnectionError:
            self._down_until[base] = time.monotonic() + _BENCHED_FOR
            raise
        finally:
            self._busy[base] -= 1

    # -- one attempt --------------------------------------------------------------------------

    async def _retrying(self, deadline: Deadline, attempt: Callable[[], Awaitable[T]]) -> T:
        tries = 0
        while True:
            try:
                return await attempt()
            except ZephyrError as error:
                await self._pause_or_raise(error, tries, deadline)
                tries += 1

    async def _pause_or_raise(self, error: ZephyrError, tries: int, deadline: Deadline) -> None:
        """Wait before the next try, or raise ``error`` when there is none to make in time."""
        if not error.retryable or tries >= self.options.max_retries:
            raise error
        ceiling = min(self.options.max_backoff, self.options.backoff * 2**tries)
        delay = random.uniform(ceiling / 2, ceiling)  # exponential backoff with jitter
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        if delay >= deadline.remaining():
            raise error
        await asyncio.sleep(delay)

    async def _exchange(
        self, method: str, base: str, target: str, body: Any, deadline: Deadline
    ) -> Reply:
        session = await self._session(base)
        url = redact_url(target)  # what messages show: never a password
        data = None if body is None else json.dumps(body).encode()

        async def exchange() -> tuple[int, Mapping[str, str], bytes]:
            async with session.request(
                method, target, data=data, headers=self.options.headers()
            ) as response:
                return response.status, response.headers, await response.read()

        with _Translated(url):
            status, headers, raw = await deadline.within(exchange())
        parsed = _parse_json(raw)
        if status >= 400:
            raise server_error(url, status, parsed, retry_after=_retry_after(headers))
        if parsed is _NOT_JSON:
            raise ZephyrResponseError(
                f"{url} answered HTTP {status} with a body that is not JSON: {_snippet(raw)}",
                url=url,
                status=status,
            )
        if isinstance(parsed, dict) and "error" in parsed:
            raise server_error(url, status, parsed)
        return Reply(url, status, headers, parsed)

    async def _stream_once(
        self, base: str, target: str, body: Any, deadline: Deadline
    ) -> AsyncIterator[Any]:
        session = await self._session(base)
        url = redact_url(target)  # what messages show: never a password
        data = json.dumps(body).encode()
        headers = self.options.headers() | {"accept": "text/event-stream"}
        with _Translated(url):
            response = await deadline.within(session.post(target, data=data, headers=headers))
        async with response:
            kind = response.headers.get("content-type", "")
            if response.status >= 400 or not kind.startswith("text/event-stream"):
                with _Translated(url):
                    raw = await deadline.within(response.read())
                parsed = _parse_json(raw)
                if response.status >= 400 or (isinstance(parsed, dict) and "error" in parsed):
                    raise server_error(
                        url, response.status, parsed, retry_after=_retry_after(response.headers)
                    )
                raise ZephyrResponseError(
                    f"{url} answered HTTP {response.status} with {kind or 'no content type'} "
                    f"instead of an event stream: {_snippet(raw)}",
                    url=url,
                    status=response.status,
                )
            lines: list[bytes] = []
            while True:
                with _Translated(url, cut="the stream from {url} was cut"):
                    line = await deadline.within(response.content.readline())
                if line and not line.endswith(b"\n"):
                    raise ZephyrTransientResponseError(
                        f"the stream from {url} was cut mid-line", url=url
                    )
                text = line.rstrip(b"\r\n")
                if text.startswith(b"data:"):
                    value = text[5:]
                    lines.append(value[1:] if value.startswith(b" ") else value)
                    continue
                if text:  # a comment (keep-alive) or a field this layer does not use
                    continue
                if lines:  # a blank line, or the end: the event is complete
                    event = _event(url, b"\n".join(lines))
                    lines = []
                    if event is _DONE:
                        return
                    yield event
                if not line:
                    return

    async def _session(self, base: str) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        return await POOL.session(loop, base, self.options.max_connections)


# -- helpers ----------------------------------------------------------------------------------

_NOT_JSON = object()
_DONE = object()


def _event(url: str, payload: bytes) -> Any:
    """One event's JSON, `_DONE` for OpenAI's ``[DONE]``; an in-band error is raised."""
    if payload.strip() == b"[DONE]":
        return _DONE
    event = _parse_json(payload)
    if event is _NOT_JSON:
        raise ZephyrResponseError(
            f"the stream from {url} sent an event that is not JSON: {_snippet(payload)}", url=url
        )
    if isinstance(event, dict) and "error" in event:
        raise server_error(url, None, event)
    return event


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return _NOT_JSON if raw.strip() else None


def _snippet(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").strip()
    return repr(text[:_SNIPPET] + ("..." if len(text) > _SNIPPET else ""))


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (a number, or an HTTP date)."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


class _Translated:
    """Turns transport failures inside the block into project errors naming ``url``."""

    def __init__(self, url: str, cut: str = "the answer from {url} was cut") -> None:
        self.url = url
        self.cut = cut

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc is None or isinstance(exc, ZephyrError) or not isinstance(exc, Exception):
            return
        url = self.url
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = exc.os_error.strerror or str(exc.os_error)
            raise ZephyrConnectionError(f"could not connect to {url} ({reason})", url=url) from exc
        if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
            raise ZephyrTransientResponseError(
                f"{self.cut.format(url=url)} ({exc!r})", url=url
            ) from exc
        if isinstance(exc, aiohttp.ClientResponseError):  # not HTTP at all
            raise ZephyrResponseError(
                f"{url} did not answer in HTTP ({exc.message})", url=url
            ) from exc
        if isinstance(exc, aiohttp.ClientOSError | ConnectionError):
            raise ZephyrTransientResponseError(
                f"{self.cut.format(url=url)} ({exc!r})", url=url
            ) from exc
        if isinstance(exc, aiohttp.ClientError | ValueError):
            raise ZephyrResponseError(
                f"the answer from {url} could not be read ({exc!r})", url=url
            ) from exc
