"""TGI's token stream turned into text pieces and one final outcome (no I/O here)."""

from __future__ import annotations

from typing import Any

from zephyr_integrations.backends.base import FinishReason
from zephyr_integrations.backends.stops import StopStreamer
from zephyr_integrations.backends.tgi_wire import Outcome, read_final, read_token
from zephyr_integrations.errors import ZephyrGenerationError


class StreamState:
    """Turns TGI stream events into text pieces and, at the end, one `Outcome`.

    A stop sequence beyond the server's limit is matched here; the stream is then left early
    (``stopped_here``), with the text and tokens received so far. Otherwise the stream is read to
    its end, so its connection goes back to the pool.
    """

    def __init__(self, stop: tuple[str, ...], url: str) -> None:
        self.url = url
        self.streamer = StopStreamer(stop)
        self.text = ""
        self.tokens = 0
        self.outcome: Outcome | None = None
        self.stop_sequence: str | None = None
        self._server_final = False

    @property
    def stopped_here(self) -> bool:
        """A stop sequence the server was not given matched: the rest of the stream is unwanted."""
        return self.outcome is not None and not self._server_final

    def feed(self, event: Any) -> str:
        """The text released by one event ("" while a possible stop sequence is held back)."""
        text, special = read_token(event, self.url)
        self.tokens += 1
        released = ""
        if not special:
            released = self.streamer.push(text)
            self.text += released
        final = read_final(event, self.url)
        if final is not None:
            self._server_final = True
            self.outcome = final
        elif self.streamer.matched is not None:
            reason: FinishReason = "stop_sequence"
            self.outcome = Outcome(self.text, reason, self.tokens)
            self.stop_sequence = self.streamer.matched
        return released

    def finish(self) -> tuple[str, Outcome]:
        """The held-back tail and the outcome; a stream that ended without its final event
        (the connection was cut cleanly) raises."""
        if self.outcome is None:
            raise ZephyrGenerationError(
                f"the stream from {self.url} ended before its final event", url=self.url
            )
        return self.streamer.flush(), self.outcome
