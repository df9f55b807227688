"""Continuous batching for one loaded model: requests join the running batch between steps.

One scheduler thread per engine runs a loop: drop the rows whose caller left or whose deadline
passed, admit waiting requests from the head of a first-come-first-served queue while the caps
allow, run one decode step for the running rows plus one prefill for the admitted ones, pick
every row's next token with its own parameters, and let the finished rows leave (their callers
get the outcome at once). A short request therefore finishes while a long one keeps going.

Caps (:class:`BatchLimits`): the number of sequences in the batch, and the KV-cache size in
token positions (padding included), projected over the rows' remaining budgets before a request
is admitted. Out of memory on the device shrinks the batch: the newest rows go back to the head
of the queue (they are prefilled again later, keeping their tokens) and the step is retried; the
cap then grows back one row at a time.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from zephyr_integrations.backends.hf_batch import RunningBatch
from zephyr_integrations.backends.hf_grammar import TokenMasks
from zephyr_integrations.backends.hf_limits import BatchLimits, cache_footprint
from zephyr_integrations.backends.hf_sampling import next_tokens
from zephyr_integrations.backends.hf_sequence import GenerationCancelledError, Sequence

PREFILL_TOKENS_PER_STEP = 8192
"""The most prompt positions (padding included) read in one step; at least one row always."""
IDLE_EXIT_S = 30.0
"""Seconds without work after which the scheduler thread ends (the next request restarts it)."""
GROW_BACK_AFTER = 32
"""Steps without running out of memory before the shrunken cap grows by one row again."""


@dataclass
class SchedulerStats:
    """What the scheduler did (for tests, benchmarks and logs)."""

    steps: int = 0
    admitted: int = 0
    finished: int = 0
    peak_batch: int = 0
    peak_cache_tokens: int = 0
    """The largest KV cache the batch held, in token positions (rows x width)."""
    preempted: int = 0
    running: int = 0
    waiting: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    """The batch size of every step, kept only while ``record_steps`` is on."""
    admissions: list[int] = field(default_factory=list)
    """The submission numbers of admitted sequences, in admission order (``record_steps``)."""
    record_steps: bool = False


#: Every scheduler, so that their loops stop before the interpreter shuts down.
_SCHEDULERS: weakref.WeakSet[Scheduler] = weakref.WeakSet()


def _close_all() -> None:
    for scheduler in list(_SCHEDULERS):
        scheduler.close()


atexit.register(_close_all)


class Scheduler:
    """Runs every request of one model through one continuously batched decode loop."""

    def __init__(
        self,
        batch: RunningBatch,
        limits: BatchLimits,
        masks: Callable[[], TokenMasks] | None = None,
    ) -> None:
        self.batch = batch
        self.limits = limits
        self.stats = SchedulerStats()
        self._masks = masks
        self._cond = threading.Condition()
        self._queue: deque[Sequence] = deque()
        self._running: list[Sequence] = []
        self._oom_cap: int | None = None
        self._steps_since_oom = 0
        self._thread: threading.Thread | None = None
        self._submitted = 0
        self._closing = False
        _SCHEDULERS.add(self)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the loop and wait for it: requests still waiting or running fail. Called at
        interpreter exit, so that no decode step runs while Python tears down torch (a daemon
        thread caught in a step then aborts the process: "terminate called without an active
        exception")."""
        with self._cond:
            self._closing = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- callers' side (any thread) ---------------------------------------------------------

    def submit(self, *sequences: Sequence) -> None:
        """Queue ``sequences`` (together: they can start in the same step); the scheduler
        admits them when the caps allow, first come first served."""
        for sequence in sequences:
            self.check_fits(sequence)
        with self._cond:
            for sequence in sequences:
                self._submitted += 1
                sequence.number = self._submitted
            self._queue.extend(sequences)
            self.stats.waiting = len(self._queue)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="zephyr-engine", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def check_fits(self, sequence: Sequence) -> None:
        """Raise if ``sequence`` alone could outgrow ``max_cache_tokens``."""
        needed = cache_footprint([(len(sequence.prompt_ids), sequence.budget)])
        cap = self.limits.max_cache_tokens
        if cap is not None and needed > cap:
            raise ValueError(
                f"this request needs up to {needed} KV-cache positions (a prompt of "
                f"{len(sequence.prompt_ids)} tokens plus max_new_tokens={sequence.budget}) but "
                f"max_cache_tokens={cap}: lower max_tokens or raise max_cache_tokens"
            )

    def wake(self) -> None:
        """Let the loop notice a cancellation now rather than at its next step."""
        with self._cond:
            self._cond.notify()

    @property
    def busy(self) -> bool:
        """Whether any request is running or waiting."""
        with self._cond:
            return bool(self._running or self._queue)

    # -- the loop (scheduler thread) ---------------------------------------------------------

    def _loop(self) -> None:
        while True:
            admitted: list[Sequence] = []
            try:
                with self._cond:
                    if self._closing:
                        self._stop()
                        return
                    while not self._queue and not self._running and not self._closing:
                        woken = self._cond.wait(timeout=IDLE_EXIT_S)
                        if not woken and not self._queue and not self._running:
                            self._thread = None  # idle: the next submit starts a new one
                            return
                    self._drop_gone(time.monotonic())
                    admitted = self._admit()
                if self._running or admitted:
                    self._step(admitted)
            except Exception as exc:  # a bug here must not strand the callers: they learn why
                for sequence in (*self._running, *admitted):
                    sequence.fail(exc)
                self._running = []
                self.batch.clear()

    def _stop(self) -> None:
        """Fail every waiting and running request (the loop is closing); under the lock."""
        closing = RuntimeError("the model's engine stopped: the interpreter is shutting down")
        for sequence in (*self._queue, *self._running):
            sequence.fail(closing)
        self._queue.clear()
        self._running = []
        self.batch.clear()
        self._thread = None

    def _drop_gone(self, now: float) -> None:
        """Rows and waiting requests whose caller left or whose deadline passed leave now."""
        for sequence in [s for s in self._queue if s.cancelled or s.expired(now)]:
            self._queue.remove(sequence)
            _abandon(sequence)
        gone = [i for i, s in enumerate(self._running) if s.cancelled or s.expired(now)]
        if gone:
            for i in gone:
                _abandon(self._running[i])
            self._keep([i for i in range(len(self._running)) if i not in gone])
        self.stats.waiting = len(self._queue)

    def _admit(self) -> list[Sequence]:
        cap = self.limits.max_batch_size
        if self._oom_cap is not None:
            cap = min(cap, self._oom_cap)
        admitted: list[Sequence] = []
        widest = 0
        while self._queue and len(self._running) + len(admitted) < cap:
            head = self._queue[0]
            length = len(head.context_ids)
            if admitted and (len(admitted) + 1) * max(widest, length) > PREFILL_TOKENS_PER_STEP:
                break
            if self.limits.max_cache_tokens is not None and (self._running or admitted):
                rows = [(len(s.context_ids), s.remaining) for s in (*self._running, *admitted)]
                if (
                    cache_footprint([*rows, (length, head.remaining)])
                    > self.limits.max_cache_tokens
                ):
                    break  # the head waits; nobody behind it goes first
            admitted.append(self._queue.popleft())
            widest = max(widest, length)
        self.stats.waiting = len(self._queue)
        return admitted

    def _step(self, admitted: list[Sequence]) -> None:
        running = self._running
        try:
            with torch.inference_mode():
                parts = []
                if running:
                    parts.append(self.batch.decode([s.generated[-1] for s in running]))
                if admitted:
                    parts.append(self.batch.prefill([s.context_ids for s in admitted]))
                logits = torch.cat(parts) if len(parts) > 1 else parts[0]
        except torch.OutOfMemoryError:
            self._shrink(admitted)
            return
        except Exception as exc:  # the model failed: every row of this step learns why
            for sequence in (*running, *admitted):
                sequence.fail(exc)
            self._running = []
            self.batch.clear()
            return
        self._running = rows = [*running, *admitted]
        self.stats.admitted += len(admitted)
        if self.stats.record_steps:
            self.stats.admissions.extend(s.number for s in admitted)
        self._record(len(rows), self.batch.size * self.batch.width)
        tokens: list[int | None]
        try:
            tokens = list(next_tokens(logits, rows, self._masks() if self._masks else None))
        except Exception as exc:  # a row's sampling state is broken: retry row by row
            tokens = self._tokens_one_by_one(logits, rows, exc)
        keep: list[int] = []
        for i, (sequence, token) in enumerate(zip(rows, tokens, strict=True)):
            if token is None:
                continue
            try:
                finished = sequence.accept(token)
                if finished:
                    sequence.finish()
                    self.stats.finished += 1
                else:
                    keep.append(i)
            except Exception as exc:
                sequence.fail(exc)
        self._keep(keep)

    def _tokens_one_by_one(
        self, logits: torch.Tensor, rows: list[Sequence], error: Exception
    ) -> list[int | None]:
        tokens: list[int | None] = []
        for i, sequence in enumerate(rows):
            try:
                masks = self._masks() if self._masks else None
                tokens.append(next_tokens(logits[i : i + 1], [sequence], masks)[0])
            except Exception as exc:
                sequence.fail(exc if exc is not error else error)
                tokens.append(None)
        return tokens

    def _keep(self, indices: list[int]) -> None:
        if len(indices) != len(self._running):
            self.batch.keep(indices)
            self._running = [self._running[i] for i in indices]
        self.stats.running = len(self._running)

    def _record(self, size: int, cache_tokens: int) -> None:
        self.stats.steps += 1
        self.stats.peak_cache_tokens = max(self.stats.peak_cache_tokens, cache_tokens)
        self.stats.running = size
        self.stats.peak_batch = max(self.stats.peak_batch, size)
        if self.stats.record_steps:
            self.stats.batch_sizes.append(size)
        if self._oom_cap is not None:
            self._steps_since_oom += 1
            if self._steps_since_oom >= GROW_BACK_AFTER:
                self._oom_cap += 1
                self._steps_since_oom = 0
                if self._oom_cap >= self.limits.max_batch_size:
                    self._oom_cap = None

    def _shrink(self, admitted: list[Sequence]) -> None:
        """Out of memory: send the newest rows back to the queue's head and retry smaller."""
        running = self._running
        if len(running) + len(admitted) <= 1:  # nothing to shrink: this request cannot run
            for sequence in (*running, *admitted):
                sequence.fail(
                    torch.OutOfMemoryError(
                        "the device ran out of memory generating this request alone: "
                        "shorten the prompt or lower max_tokens"
                    )
                )
            self._running = []
            self.batch.clear()
            return
        with self._cond:
            if admitted:  # the prefill failed; the running rows are intact
                back = admitted
                self._oom_cap = len(running) + len(admitted) // 2
            else:
                keep = len(running) // 2
                back = running[keep:]
                self._keep(list(range(keep)))
                self._oom_cap = keep
            self._queue.extendleft(reversed(back))
            self.stats.preempted += len(back)
            self.stats.waiting = len(self._queue)
        self._oom_cap = max(self._oom_cap, 1)
        self._steps_since_oom = 0
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _abandon(sequence: Sequence) -> None:
    if sequence.cancelled:
        sequence.fail(GenerationCancelledError("generation was cancelled"))
    else:
        timeout = sequence.params.timeout
        sequence.fail(
            TimeoutError(f"generation took longer than timeout={timeout} s and was stopped")
        )
