"""A deterministic, pure-Python :class:`~zephyr_integrations.backends.Backend` for tests.

No torch, no weights: its "tokens" are whitespace-separated words, each keeping the whitespace
before it (the last one also keeps any trailing whitespace), so joining tokens gives the text
back. Its "model" answers with a fixed reply, a function of the prompt, or (by default) an echo
of the last user turn of a Zephyr prompt, then emits EOS. Everything else follows the Backend
contract: ``max_new_tokens`` ends with ``length``, a stop sequence is cut off and ends with
``stop_sequence``, and otherwise generation ends with ``eos_token``.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

from zephyr_integrations.backends.base import (
    FinishReason,
    Generation,
    GenerationParams,
    GenerationRequest,
    TextDelta,
)
from zephyr_integrations.backends.stops import find_stop
from zephyr_integrations.template import EOS

DEFAULT_MAX_NEW_TOKENS = 256
BOS_ID = 1
EOS_ID = 2
_WORD = re.compile(r"\s*\S+")
_USER_TURN = "<|user|>\n"

Token = tuple[int, str, int, int]
"""``(id, text, start, stop)``: a token id, its text and its character span in the input."""


def split_words(text: str) -> list[str]:
    """Split ``text`` into word pieces that join back into ``text``.

    Each piece is a word with the whitespace before it; trailing whitespace stays on the last
    piece. Text without a word gives no piece.
    """
    pieces = _WORD.findall(text)
    if pieces:
        rest = text[sum(len(piece) for piece in pieces) :]
        pieces[-1] += rest
    return pieces


def word_id(piece: str) -> int:
    """A stable id for a word piece (ids 0-2 are ``<unk>``, ``<s>`` and ``</s>``)."""
    return 3 + zlib.crc32(piece.encode("utf-8")) % 32_000


def whitespace_tokenize(text: str, *, bos: bool = True) -> list[Token]:
    """Tokenize like :class:`ScriptedBackend`: BOS, then one token per word.

    BOS is zero-width with an empty text, as TGI's ``/tokenize`` shows special tokens.
    """
    tokens: list[Token] = [(BOS_ID, "", 0, 0)] if bos else []
    start = 0
    for piece in split_words(text):
        tokens.append((word_id(piece), piece, start, start + len(piece)))
        start += len(piece)
    return tokens


def last_user_turn(prompt: str) -> str:
    """The content of the last ``<|user|>`` turn of a Zephyr prompt (the prompt itself if none)."""
    start = prompt.rfind(_USER_TURN)
    if start == -1:
        return prompt
    content = prompt[start + len(_USER_TURN) :]
    end = content.find(EOS)
    return content if end == -1 else content[:end]


class ScriptedBackend:
    """A scripted model: deterministic answers at any speed, for tests and benchmarks.

    Args:
        model: the model name it reports.
        reply: the answer, as a string or a function of the prompt; by default the content of
            the last user turn (or the whole prompt when it is not a Zephyr chat prompt).
        eos: whether the model ends its answer with EOS. With ``eos=False`` it never stops by
            itself: it repeats its answer until ``max_new_tokens`` (default
            ``DEFAULT_MAX_NEW_TOKENS``) runs out.
        grammar: accept requests with a grammar (``supports_grammar``). The script is not
            checked against it: a test scripts the reply a constrained model would write, or a
            broken one, to see how it is read.

    ``prompt_tokens`` is the number of words in the prompt plus one (BOS);
    ``completion_tokens`` counts the generated words plus the EOS token when one was emitted.
    Every request received is kept in :attr:`requests`.
    """

    eos_token_id = EOS_ID
    eos_token = EOS

    def __init__(
        self,
        model: str = "scripted",
        reply: str | Callable[[str], str] | None = None,
        eos: bool = True,
        grammar: bool = False,
    ) -> None:
        self.model = model
        self.reply = reply
        self.eos = eos
        self.supports_grammar = grammar
        self.requests: list[GenerationRequest] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ScriptedBackend(model={self.model!r}, eos={self.eos!r})"

    @property
    def model_name(self) -> str:
        return self.model

    def tokenize(self, text: str) -> list[Token]:
        """``<s>`` then one token per word, with character offsets (TGI's ``/tokenize``)."""
        return whitespace_tokenize(text)

    def answer(self, prompt: str) -> str:
        """The text the model would write for ``prompt``, before any limit or stop."""
        if self.reply is None:
            return last_user_turn(prompt)
        return self.reply(prompt) if callable(self.reply) else self.reply

    # -- Backend --------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [self._run(request)[1] for request in requests]

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return self.generate(requests)

    def stream(self, request: GenerationRequest) -> Iterator[TextDelta]:
        pieces, generation = self._run(request)
        sent = 0
        for piece in pieces:
            text = piece[: max(0, len(generation.text) - sent)]
            sent += len(text)
            if text:
                yield TextDelta(text)
        yield TextDelta(generation=generation)

    async def astream(self, request: GenerationRequest) -> AsyncIterator[TextDelta]:
        for delta in self.stream(request):
            yield delta

    # -- the script -----------------------------------------------------------------------

    def _run(self, request: GenerationRequest) -> tuple[list[str], Generation]:
        """The word pieces generated for ``request`` and the finished generation."""
        with self._lock:
            self.requests.append(request)
        params: GenerationParams = request.params
        words = split_words(self.answer(request.prompt))
        budget = params.max_new_tokens
        if budget is None:
            budget = len(words) + 2 if self.eos else DEFAULT_MAX_NEW_TOKENS
        pieces, text, reason, completion, stop = self._play(words, budget, params.stop)
        generation = Generation(
            text=text,
            finish_reason=reason,
            prompt_tokens=len(request.prompt.split()) + 1,
            completion_tokens=completion,
            model=self.model,
            stop_sequence=stop,
        )
        return pieces, generation

    def _play(
        self, words: list[str], budget: int, stops: Sequence[str]
    ) -> tuple[list[str], str, FinishReason, int, str | None]:
        """Run the script: (pieces, text, finish reason, completion tokens, stop sequence)."""
        pieces: list[str] = []
        text = ""
        for piece in self._script(words):
            if piece is None:  # EOS, the last token (unless the budget ends here)
                reason: FinishReason = "length" if len(pieces) + 1 >= budget else "eos_token"
                return pieces, text, reason, len(pieces) + 1, None
            pieces.append(piece)
            text += piece
            found = find_stop(text, stops)
            if found is not None:
                return pieces, text[: found[0]], "stop_sequence", len(pieces), found[1]
            if len(pieces) >= budget:
                return pieces, text, "length", len(pieces), None
        raise AssertionError("unreachable: the script ends with EOS or never ends")

    def _script(self, words: list[str]) -> Iterator[str | None]:
        """The model's token stream: the answer then EOS (``None``), or the answer forever."""
        yield from words
        if self.eos or not words:
            yield None
            return
        again = [words[0] if words[0][:1].isspace() else " " + words[0], *words[1:]]
        while True:
            yield from again
