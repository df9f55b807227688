"""HTTP plumbing for the TGI backend: a connection pool that stays fast under fan-out.

httpcore's pool rescans every connection for every queued request, and recounts them all for each
idle one, so its cost grows with the square of the pool size: at 64 connections a burst of 64
requests spends about a second of CPU in pool bookkeeping (measured on this project's fan-out
benchmark). `ShardedTransport` spreads requests over small pools (least in flight first), which
keeps that bookkeeping cheap while still allowing many connections in total.
"""

from __future__ import annotations

import math
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpx
from huggingface_hub import AsyncInferenceClient, get_async_session, get_session

DEFAULT_MAX_CONNECTIONS = 256
SHARD_SIZE = 16
PROMPT_TOKENS_HEADER = "x-prompt-tokens"

_hook_lock = threading.Lock()
_headers_slot: ContextVar[dict[str, str] | None] = ContextVar("tgi_headers_slot", default=None)


@contextmanager
def capture_headers() -> Iterator[dict[str, str]]:
    """Collect the usage headers of the responses received in this context (this task only).

    TGI reports the prompt's token count in ``x-prompt-tokens``; reading it from the headers
    spares asking for ``decoder_input_details`` (one parsed object per prompt token).
    """
    _hook_shared_session()
    slot: dict[str, str] = {}
    token = _headers_slot.set(slot)
    try:
        yield slot
    finally:
        _headers_slot.reset(token)


async def _record_headers(response: httpx.Response) -> None:
    _record_headers_sync(response)


def _record_headers_sync(response: httpx.Response) -> None:
    slot = _headers_slot.get()
    if slot is not None:
        value = response.headers.get(PROMPT_TOKENS_HEADER)
        if value is not None:
            slot[PROMPT_TOKENS_HEADER] = value


def _hook_shared_session() -> None:
    """Have huggingface_hub's shared sync session report headers to `capture_headers`.

    The hook does nothing outside a `capture_headers` block, so other users of the session see
    no change; it is installed again if huggingface_hub replaces its session.
    """
    hooks = get_session().event_hooks["response"]
    if _record_headers_sync not in hooks:
        with _hook_lock:
            if _record_headers_sync not in hooks:
                hooks.append(_record_headers_sync)


class ShardedTransport(httpx.AsyncBaseTransport):
    """Requests spread over ``ceil(max_connections / shard_size)`` small keep-alive pools."""

    def __init__(
        self, max_connections: int = DEFAULT_MAX_CONNECTIONS, shard_size: int = SHARD_SIZE
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections={max_connections!r} is invalid: expected >= 1")
        size = min(shard_size, max_connections)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        count = math.ceil(max_connections / size)
        self._shards = [httpx.AsyncHTTPTransport(limits=limits) for _ in range(count)]
        self._in_flight = [0] * count

    @property
    def shards(self) -> int:
        return len(self._shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._in_flight)), key=self._in_flight.__getitem__)
        self._in_flight[index] += 1
        try:
            response = await self._shards[index].handle_async_request(request)
        except BaseException:
            self._in_flight[index] -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _TrackedStream(response.stream, self._in_flight, index)
        return response

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


class _TrackedStream(httpx.AsyncByteStream):
    """A response body that gives its shard's slot back when closed."""

    def __init__(self, stream: httpx.AsyncByteStream, in_flight: list[int], index: int) -> None:
        self._stream = stream
        self._in_flight = in_flight
        self._index = index
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        if not self._released:
            self._released = True
            self._in_flight[self._index] -= 1
        await self._stream.aclose()


def new_async_session(max_connections: int = DEFAULT_MAX_CONNECTIONS) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with huggingface_hub's settings on a `ShardedTransport`.

    It keeps the hub's event hooks (they read the body of failed streams, for error messages)
    and adds one that reports response headers to `capture_headers`.
    """
    default = get_async_session()
    hooks = default.event_hooks
    session = httpx.AsyncClient(
        transport=ShardedTransport(max_connections, SHARD_SIZE),
        event_hooks={**hooks, "response": [*hooks["response"], _record_headers]},
        follow_redirects=default.follow_redirects,
        timeout=default.timeout,
    )
    # The default client has opened nothing yet; dropping it closes nothing.
    del default
    return session


class SessionInferenceClient(AsyncInferenceClient):
    """huggingface_hub's AsyncInferenceClient for one call, on a session it does not own.

    The hub client builds its ``httpx.AsyncClient`` lazily in ``_get_async_client`` and enters
    it, and every stream it opens, into its exit stack. This one uses the backend's pooled
    session instead, so closing it closes only its own streams (a test checks the hook is used).
    """

    def __init__(self, session: httpx.AsyncClient, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._session = session

    async def _get_async_client(self) -> httpx.AsyncClient:
        return self._session
