"""TGI's token stream turned into text deltas and one final Generation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from zephyr_integrations.backends.base import Generation, GenerationParams, TextDelta
from zephyr_integrations.backends.stops import StopStreamer
from zephyr_integrations.backends.tgi_errors import TGIError
from zephyr_integrations.redact import redact_url

if TYPE_CHECKING:
    from zephyr_integrations.backends.tgi import TGIBackend


class StreamState:
    """Turns TGI stream events into text deltas and one final Generation.

    A stop sequence beyond the server's limit is matched here; the stream is then left early
    (``stopped_here``), with the text and tokens received so far. Otherwise the stream is read to
    its end, so its connection goes back to the pool.
    """

    def __init__(self, backend: TGIBackend, prompt: str, params: GenerationParams) -> None:
        self.backend = backend
        self.prompt = prompt
        self.params = params
        self.streamer = StopStreamer(tuple(params.stop))
        self.text = ""
        self.tokens = 0
        self.generation: Generation | None = None
        self._server_final = False

    @property
    def done(self) -> bool:
        return self.generation is not None

    @property
    def stopped_here(self) -> bool:
        """A stop sequence the server was not given matched: the rest of the stream is unwanted."""
        return self.generation is not None and not self._server_final

    def feed(self, event: Any) -> Iterator[TextDelta]:
        token = event.token
        self.tokens += 1
        if not token.special:
            released = self.streamer.push(token.text)
            self.text += released
            if released:
                yield TextDelta(released)
        if event.details is not None:
            self._server_final = True
            details = event.details
            reported = getattr(details, "input_length", None)
            self.generation = self.backend._to_generation(
                event.generated_text or "",
                details,
                self.params,
                self.backend._prompt_tokens(self.prompt, reported),
            )
        elif self.streamer.matched is not None:
            self.generation = Generation(
                text=self.text,
                finish_reason="stop_sequence",
                prompt_tokens=self.backend._prompt_tokens(self.prompt, None),
                completion_tokens=self.tokens,
                model=self.backend.model_name,
                stop_sequence=self.streamer.matched,
            )

    def finish(self) -> Iterator[TextDelta]:
        if self.generation is None:
            raise TGIError(
                f"the stream from {redact_url(self.backend.base_url)} ended before its final event "
                "(the connection was cut)"
            )
        tail = self.streamer.flush()
        if tail:
            yield TextDelta(tail)
        yield TextDelta(generation=self.generation)


def guard_sync(events: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from events
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise TGIError(f"the stream was cut mid-way: {exc}") from exc


async def guard_async(events: Any) -> AsyncIterator[Any]:
    try:
        async for event in events:
            yield event
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise TGIError(f"the stream was cut mid-way: {exc}") from exc
