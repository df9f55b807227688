"""Running many chat-model calls at once: a concurrency limit, retries, a progress bar.

What `collect` and `judge` share. The limit is an ``asyncio.Semaphore`` held around each job,
and a job is only created once a slot is free, so a million pending calls cost no memory.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")
Item = TypeVar("Item")

#: Errors that say the call itself is wrong (a bad parameter, an unsupported feature):
#: retrying cannot help, so they fail at once.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (TypeError, ValueError, NotImplementedError)


async def with_retries(
    call: Callable[[], Awaitable[T]], *, max_retries: int, retry_wait: float
) -> T:
    """Await ``call()``; on a transient error wait (exponential backoff, jitter) and try again,
    at most ``max_retries`` more times. The last error is raised."""
    attempt = 0
    while True:
        try:
            return await call()
        except PERMANENT_ERRORS:
            raise
        except Exception:
            if attempt >= max_retries:
                raise
            await asyncio.sleep(retry_wait * 2**attempt * (0.5 + random.random()))
            attempt += 1


async def run_all(
    items: Iterable[Item],
    work: Callable[[Item], Coroutine[Any, Any, None]],
    *,
    concurrency: int,
    on_done: Callable[[], None] | None = None,
) -> None:
    """Run ``work(item)`` for every item, at most ``concurrency`` at a time.

    ``work`` handles its own errors; one that escapes cancels the rest and is raised.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency={concurrency} is invalid: expected at least 1")
    slots = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task[None]] = set()
    errors: list[BaseException] = []

    def finished(task: asyncio.Task[None]) -> None:
        running.discard(task)
        slots.release()
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            errors.append(error)
        elif on_done is not None:
            on_done()

    try:
        for item in items:
            await slots.acquire()
            if errors:
                break
            task = asyncio.create_task(work(item))
            running.add(task)
            task.add_done_callback(finished)
        while running and not errors:
            await asyncio.wait(set(running), return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in list(running):
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
    if errors:
        raise errors[0]


@asynccontextmanager
async def progress_bar(
    description: str, total: int, *, enabled: bool
) -> AsyncIterator[Callable[[], None]]:
    """A Rich progress bar on stderr; yields the function that advances it by one."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )
    task = bar.add_task(description, total=total)
    with bar:
        yield lambda: bar.advance(task)
