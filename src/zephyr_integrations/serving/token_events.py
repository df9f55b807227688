"""A backend's output as TGI's token events: the tokenizer the server counts with, one event per
text piece of a stream, and the final event that carries the generation."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from zephyr_integrations.backends.base import Backend, Generation, GenerationRequest
from zephyr_integrations.serving.protocol_errors import failure
from zephyr_integrations.serving.tgi_bodies import Json, token
from zephyr_integrations.serving.tgi_validation import Plan
from zephyr_integrations.template import EOS

Tokenizer = Callable[[str], list[tuple[int, str, int, int]]]
"""A text as ``(id, text, start, stop)`` tokens, BOS included."""


@dataclass(frozen=True)
class Event:
    """A streamed token; the final one carries the generation and the generated text."""

    token: Json
    generation: Generation | None = None
    text: str = ""


class TokenEvents:
    """Turns ``backend``'s output into TGI tokens, counted with ``tokenize``."""

    def __init__(self, backend: Backend, tokenize: Tokenizer) -> None:
        self.backend = backend
        self.tokenize = tokenize
        self._eos: tuple[int, str] | None = None

    def events(self, plan: Plan) -> Generator[Event, None, None]:
        """The backend's stream as TGI token events: one per text piece, then a final event
        carrying the last token (EOS, the piece completing a stop sequence, or the last one)."""
        stream = self.backend.stream(GenerationRequest(plan.inputs, plan.params))
        pending: str | None = None
        generation: Generation | None = None
        try:
            for delta in stream:
                if delta.generation is not None:
                    generation = delta.generation
                    break
                if delta.text and pending is not None:
                    yield Event(self.token(pending))
                pending = delta.text or pending
        except Exception as exc:
            raise failure("generation", f"Request failed during generation: {exc}") from exc
        finally:
            getattr(stream, "close", lambda: None)()
        if generation is None:
            raise failure("incomplete_generation_stream", "Incomplete generation stream")
        stop = generation.stop_sequence or ""
        if generation.finish_reason == "eos_token":
            if pending is not None:
                yield Event(self.token(pending))
            last = self.eos_token()
        else:
            last = self.token((pending or "") + stop)
        yield Event(last, generation, generation.text + stop)

    def token(self, text: str) -> Json:
        """``text`` as one token, with the id of its first token."""
        ids = [i for i, _, start, stop in self.tokenize(text) if stop > start]
        return token(ids[0] if ids else 0, text)

    def tokens(self, text: str) -> list[Json]:
        """``text`` as its tokens (BOS and other empty ones left out)."""
        return [token(i, t) for i, t, start, stop in self.tokenize(text) if stop > start]

    def eos_token(self) -> Json:
        if self._eos is None:
            backend: Any = self.backend
            if hasattr(backend, "eos_token_id") and hasattr(backend, "eos_token"):
                self._eos = (backend.eos_token_id, backend.eos_token)
            elif getattr(type(backend), "engine", None) is not None:
                tokenizer = backend.engine.tokenizer
                self._eos = (int(tokenizer.eos_token_id), str(tokenizer.eos_token))
            else:
                self._eos = (2, EOS)
        return token(*self._eos, special=True)


def default_tokenizer(backend: Any) -> Tokenizer:
    """``backend.tokenize``, else the Hugging Face tokenizer of a Transformers backend
    (``backend.engine.tokenizer``), else whitespace words."""
    own = getattr(backend, "tokenize", None)
    if callable(own):
        return own
    if getattr(type(backend), "engine", None) is not None:  # a Transformers backend

        def tokenize(text: str) -> list[tuple[int, str, int, int]]:
            tokenizer = backend.engine.tokenizer
            encoded = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
            pairs = zip(encoded["input_ids"], encoded["offset_mapping"], strict=True)
            return [(int(i), text[start:stop], int(start), int(stop)) for i, (start, stop) in pairs]

        return tokenize
    from zephyr_integrations.testing.scripted_backend import whitespace_tokenize

    return whitespace_tokenize
