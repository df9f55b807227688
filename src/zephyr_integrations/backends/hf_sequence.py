"""One request inside the running batch: its tokens, sampling state, stops and outcome.

A :class:`Sequence` is created in the caller's thread (where bad input raises) and then lives in
the scheduler's thread, which feeds it one token per step until it finishes. Its outcome is a
``concurrent.futures.Future`` that any thread (or event loop) can wait on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from zephyr_integrations.backends.base import FinishReason, Generation, GenerationParams
from zephyr_integrations.backends.hf_grammar import advance
from zephyr_integrations.backends.stops import cut_at_stop


class GenerationCancelledError(Exception):
    """The caller went away; its sequence left the batch."""


@dataclass(frozen=True)
class Decoding:
    """What every sequence of one engine shares: its tokenizer, EOS ids and model name."""

    tokenizer: PreTrainedTokenizerBase
    eos_ids: frozenset[int]
    text_eos: tuple[str, ...]
    """End-of-turn markers that are text, not a special token (handled as stop strings)."""
    model_name: str

    def decode(self, tokens: list[int]) -> str:
        return str(self.tokenizer.decode(tokens, skip_special_tokens=True))


@dataclass(eq=False)
class Sequence:
    """A request being generated: prompt, tokens so far, per-request sampling state."""

    prompt_ids: list[int]
    params: GenerationParams
    budget: int
    """The most new tokens (``max_new_tokens`` within the model's context)."""
    decoding: Decoding
    generator: torch.Generator
    """This request's own random numbers (seeded by ``params.seed``)."""
    matcher: Any = None
    """The llguidance matcher of a grammar-constrained request."""
    on_text: Callable[[str], None] | None = None
    """Receives each piece of decoded text as it is generated (streaming)."""
    deadline: float | None = None
    generated: list[int] = field(default_factory=list)
    future: Future[Generation] = field(default_factory=Future)
    cancelled: bool = False
    number: int = 0
    """Its place in the order of submission (set by the scheduler)."""
    finish_reason: FinishReason | None = None
    _stops: tuple[str, ...] = ()
    _window: int = 0
    _emitted: str = ""
    _prefix_offset: int = 0
    _read_offset: int = 0
    _seen: set[int] = field(default_factory=set)
    _seen_ids: torch.Tensor | None = None

    def __post_init__(self) -> None:
        self._stops = (*self.params.stop, *self.decoding.text_eos)
        # Enough tokens to hold the longest stop string, even at one byte per token.
        self._window = 4 * max((len(s) for s in self._stops), default=0) + 4
        self.future.set_running_or_notify_cancel()  # only the scheduler resolves it

    # -- state ------------------------------------------------------------------------------

    @property
    def context_ids(self) -> list[int]:
        """Every token the model has to have read before the next step."""
        return self.prompt_ids + self.generated

    @property
    def remaining(self) -> int:
        return self.budget - len(self.generated)

    @property
    def done(self) -> bool:
        return self.future.done()

    def cancel(self) -> None:
        """The caller is gone: leave the batch (or the queue) at the next step."""
        self.cancelled = True

    def expired(self, now: float) -> bool:
        return self.deadline is not None and now > self.deadline

    def seen_ids(self) -> torch.Tensor:
        """The distinct tokens of prompt and completion (for the repetition penalty)."""
        if self._seen_ids is None:  # first use: from then on ``accept`` keeps ``_seen`` current
            self._seen = {*self.prompt_ids, *self.generated}
        if self._seen_ids is None or len(self._seen) != self._seen_ids.numel():
            self._seen_ids = torch.tensor(sorted(self._seen), dtype=torch.long)
        return self._seen_ids

    # -- one step ---------------------------------------------------------------------------

    def accept(self, token: int) -> bool:
        """Append the token chosen for this step; True when the sequence is finished."""
        self.generated.append(token)
        if self._seen_ids is not None:
            self._seen.add(token)
        if self.matcher is not None:
            advance(self.matcher, token)
        if token in self.decoding.eos_ids:
            self.finish_reason = "eos_token"
        elif self._stops and self._ends_with_stop():
            self.finish_reason = "stop_sequence"
        elif len(self.generated) >= self.budget:
            self.finish_reason = "length"
        if self.on_text is not None and self.finish_reason is None:
            self._stream()
        return self.finish_reason is not None

    def _ends_with_stop(self) -> bool:
        window = self.generated[-self._window :]
        text = self.decoding.decode(window)
        return any(stop in text for stop in self._stops)

    def _stream(self) -> None:
        """Hand on the text the new token completes (none while a character is half-made)."""
        decode = self.decoding.decode
        prefix = decode(self.generated[self._prefix_offset : self._read_offset])
        text = decode(self.generated[self._prefix_offset :])
        if len(text) > len(prefix) and not text.endswith("\ufffd"):
            piece = text[len(prefix) :]
            self._prefix_offset, self._read_offset = self._read_offset, len(self.generated)
            self._emitted += piece
            self._send(piece)

    def _send(self, piece: str) -> None:
        if self.on_text is None or not piece:
            return
        try:
            self.on_text(piece)
        except Exception:  # a listener that fails is a listener that left
            self.cancelled = True

    # -- outcome ----------------------------------------------------------------------------

    def finish(self) -> None:
        """Resolve the future with the generation (text cut at its stop, exact usage)."""
        tokens = self.generated
        text = self.decoding.decode(tokens)
        if self.on_text is not None and text.startswith(self._emitted):
            self._send(text[len(self._emitted) :])
        text, matched = cut_at_stop(text, self._stops)
        reason = self.finish_reason or "length"
        if matched is not None and matched not in self.params.stop:
            reason, matched = "eos_token", None  # the model's end of turn, written as text
        self._resolve(
            Generation(
                text=text,
                finish_reason=reason,
                prompt_tokens=len(self.prompt_ids),
                completion_tokens=len(tokens),
                model=self.decoding.model_name,
                stop_sequence=matched,
            )
        )

    def fail(self, error: BaseException) -> None:
        self._resolve(error)

    def _resolve(self, outcome: Generation | BaseException) -> None:
        if self.future.done():
            return
        if isinstance(outcome, BaseException):
            self.future.set_exception(outcome)
        else:
            self.future.set_result(outcome)


def deadline_after(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout
