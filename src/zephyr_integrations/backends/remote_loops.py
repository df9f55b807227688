"""Where the remote layer's connections live: one aiohttp session per event loop and server,
closed when that loop shuts down; and the event loops on which sync callers run the same
coroutines as async ones (each thread its own, or a shared loop thread when called from inside a
running event loop)."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
import weakref
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp

T = TypeVar("T")


class _Pool:
    """aiohttp sessions per event loop and server, shared by every client of that server.

    A loop's sessions are closed when it shuts down: ``asyncio.run`` (and ``asyncio.Runner``,
    pytest-asyncio) close every live async generator of a loop before closing it, and each loop
    gets one such generator, its watcher, which closes them then. A loop closed without that
    shutdown keeps its sessions until ```RemoteClient.aclose```.
    """

    def __init__(self) -> None:
        self._loops: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[str, int], aiohttp.ClientSession]
        ] = weakref.WeakKeyDictionary()
        self._watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncIterator[None]]
        self._watchers = weakref.WeakKeyDictionary()

    async def session(
        self, loop: asyncio.AbstractEventLoop, base_url: str, max_connections: int
    ) -> aiohttp.ClientSession:
        sessions = self._loops.get(loop)
        if sessions is None:
            sessions = self._loops[loop] = {}
            watcher = self._watchers[loop] = self._watch(loop)
            await anext(watcher)
        key = _key(base_url, max_connections)
        session = sessions.get(key)
        if session is None or session.closed:
            session = sessions[key] = _new_session(base_url, max_connections)
        return session

    async def close(
        self, loop: asyncio.AbstractEventLoop, base_url: str, max_connections: int
    ) -> None:
        session = self._loops.get(loop, {}).pop(_key(base_url, max_connections), None)
        if session is not None:
            await session.close()

    async def _watch(self, loop: asyncio.AbstractEventLoop) -> AsyncIterator[None]:
        try:
            yield
        finally:
            sessions = self._loops.pop(loop, {})
            self._watchers.pop(loop, None)
            for session in sessions.values():
                await session.close()


def _key(base_url: str, max_connections: int) -> tuple[str, int]:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}", max_connections


def _new_session(base_url: str, max_connections: int) -> aiohttp.ClientSession:
    plain = urlsplit(base_url).scheme == "http"
    connector = aiohttp.TCPConnector(
        limit=max_connections,
        limit_per_host=0,
        ssl=not plain,  # no TLS context for http://
        ttl_dns_cache=300,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None),  # the Deadline bounds every call
        skip_auto_headers=("User-Agent",),
        headers={"user-agent": "zephyr-integrations"},
    )


POOL = _Pool()
"""The process's sessions, per event loop and server."""


# -- sync callers -----------------------------------------------------------------------------


class _Bridge:
    """One private event loop on a daemon thread that runs sync callers' coroutines."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():  # new, or after a fork
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                threading.Thread(
                    target=self._loop.run_forever, name="zephyr-remote", daemon=True
                ).start()
                atexit.register(self._shutdown, self._loop)
            return self._loop

    @staticmethod
    def _shutdown(loop: asyncio.AbstractEventLoop) -> None:
        """At exit, close the sessions of sync callers (their watchers are async generators)."""
        if loop.is_running():
            done = asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop)
            with contextlib.suppress(Exception):
                done.result(timeout=2)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop())
        try:
            return future.result()
        except BaseException:
            future.cancel()  # the caller was interrupted (KeyboardInterrupt) or it failed
            raise


_BRIDGE = _Bridge()


class _ThreadLoop:
    """A calling thread's own event loop for its sync calls: no hand-off to another thread.

    Its sessions stay open between calls (kept-alive connections); when the thread ends, its
    thread-local copy is dropped and the loop shuts down, closing them (the main thread's, at
    exit).
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pid = os.getpid()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        task = self.loop.create_task(coroutine)
        try:
            return self.loop.run_until_complete(task)
        except BaseException:
            if not task.done():  # interrupted (KeyboardInterrupt): stop the call too
                task.cancel()
                with contextlib.suppress(BaseException):
                    self.loop.run_until_complete(task)
            raise

    def close(self) -> None:
        loop = self.loop
        if loop.is_closed() or loop.is_running() or self.pid != os.getpid():
            return
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())  # the sessions' watchers
        loop.close()

    def __del__(self) -> None:
        self.close()


_LOCAL = threading.local()


def _runner() -> _ThreadLoop | _Bridge:
    """This thread's own loop; the shared loop thread when an event loop already runs here
    (sync code called from async code, a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return _BRIDGE
    own: _ThreadLoop | None = getattr(_LOCAL, "loop", None)
    if own is None or own.pid != os.getpid() or own.loop.is_closed():
        own = _LOCAL.loop = _ThreadLoop()
        if threading.current_thread() is threading.main_thread():
            atexit.register(own.close)
    return own


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end from sync code, on this thread's own event loop."""
    return _runner().run(coroutine)


def iterate_sync(stream: AsyncIterator[T]) -> Iterator[T]:
    """Iterate an async iterator from sync code (on this thread's own event loop); closing
    the iterator closes the stream, and with it its HTTP response."""

    async def next_item() -> tuple[bool, T | None]:
        try:
            return True, await anext(stream)
        except StopAsyncIteration:
            return False, None

    async def close() -> None:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()

    runner = _runner()
    try:
        while True:
            more, item = runner.run(next_item())
            if not more:
                return
            yield item  # type: ignore[misc]
    finally:
        runner.run(close())
