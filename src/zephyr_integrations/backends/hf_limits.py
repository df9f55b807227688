"""How much one Transformers engine runs at once (no torch here: backends check it on
construction, before anything loads)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class BatchLimits:
    """How much one engine runs at once; requests beyond it wait in a FIFO queue."""

    max_batch_size: int = 64
    """The most sequences decoding together."""
    max_cache_tokens: int | None = None
    """The most KV-cache token positions over all rows (padding included); None: no cap."""

    def __post_init__(self) -> None:
        if isinstance(self.max_batch_size, bool) or not isinstance(self.max_batch_size, int):
            raise ValueError(f"max_batch_size={self.max_batch_size!r} is invalid: expected >= 1")
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size={self.max_batch_size!r} is invalid: expected >= 1")
        cache = self.max_cache_tokens
        if cache is not None and (
            isinstance(cache, bool) or not isinstance(cache, int) or cache < 1
        ):
            raise ValueError(f"max_cache_tokens={cache!r} is invalid: expected >= 1 or None")


def cache_footprint(rows: Iterable[tuple[int, int]]) -> int:
    """The largest KV cache, in token positions, that rows ``(length, remaining)`` can reach.

    Every step adds one column for all live rows; a row holds ``length + k`` tokens ``k`` steps
    on and is gone after ``remaining`` steps, and columns only padding occupies are trimmed, so
    the cache at step ``k`` is ``live(k) * max(length of live rows + k)``; it peaks just before
    some row leaves.
    """
    ordered = sorted(rows, key=lambda row: -row[1])
    peak, longest = 0, 0
    for count, (length, remaining) in enumerate(ordered, start=1):
        longest = max(longest, length)
        steps = max(remaining - 1, 0)
        peak = max(peak, count * (longest + steps))
    return peak
