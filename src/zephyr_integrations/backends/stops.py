"""Stop sequences on text: cut a finished completion, or hold back a stream until it is safe."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


def find_stop(text: str, stops: Sequence[str]) -> tuple[int, str] | None:
    """The stop sequence that generation meets first in ``text``, as ``(start, sequence)``.

    Generation produces text left to right and stops as soon as a stop sequence is complete, so
    the sequence that wins is the one that *ends* first (TGI and vLLM check the text's tail after
    every token). When several end at the same character, the longest wins, so the cut text never
    holds a whole stop sequence.
    """
    best: tuple[int, int, str] | None = None  # (end, start, sequence)
    for stop in stops:
        start = text.find(stop)
        if start == -1:
            continue
        candidate = (start + len(stop), start, stop)
        if best is None or candidate[:2] < best[:2]:
            best = candidate
    return None if best is None else (best[1], best[2])


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, str | None]:
    """``text`` cut at the start of the first stop sequence to complete, and that sequence."""
    found = find_stop(text, stops)
    if found is None:
        return text, None
    return text[: found[0]], found[1]


@dataclass
class StopStreamer:
    """Releases streamed text only once no stop sequence can start inside it.

    Text that could be the beginning of a stop sequence is held back until the next piece shows
    whether it is one. After a stop sequence is seen, everything else is swallowed.
    """

    stops: Sequence[str]
    _pending: str = ""
    matched: str | None = None
    _hold: int = field(init=False)

    def __post_init__(self) -> None:
        self._hold = max((len(stop) for stop in self.stops), default=1) - 1

    def push(self, text: str) -> str:
        """Add streamed text; return what can be released now."""
        if self.matched is not None:
            return ""
        self._pending += text
        found = find_stop(self._pending, self.stops)
        if found is not None:
            released = self._pending[: found[0]]
            self.matched = found[1]
            self._pending = ""
            return released
        cut = self._partial_match_start()
        released, self._pending = self._pending[:cut], self._pending[cut:]
        return released

    def flush(self) -> str:
        """The stream ended: release what was held back."""
        released, self._pending = self._pending, ""
        return "" if self.matched is not None else released

    def _partial_match_start(self) -> int:
        # With no whole stop sequence in the pending text, one can only begin in its last
        # ``_hold`` characters, as a suffix that is a proper prefix of a stop sequence.
        pending = self._pending
        for start in range(max(0, len(pending) - self._hold), len(pending)):
            if any(stop.startswith(pending[start:]) for stop in self.stops):
                return start
        return len(pending)
