"""What a backend is: plain generation requests in, text and token counts out.

Nothing here knows LangChain, torch or HTTP. A backend receives a rendered prompt (the Zephyr
format, no BOS) and sampling parameters, and answers with the generated text, why generation
ended and exact token counts.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from zephyr_integrations.errors import ZephyrValidationError
from zephyr_integrations.limits import check_prompt

FinishReason = Literal["eos_token", "stop_sequence", "length"]
"""Why generation ended, in TGI's words: the model's end-of-sequence token, a stop sequence,
or the ``max_new_tokens`` budget."""

MAX_NEW_TOKENS_LIMIT = 1_048_576
MAX_STOP_SEQUENCES = 64


class InvalidParameterError(ZephyrValidationError):
    """A generation parameter outside the range a model can honour."""

    def __init__(self, name: str, value: object, expected: str) -> None:
        super().__init__(f"{name}={value!r} is invalid: expected {expected}")
        self.name = name


class GrammarError(ZephyrValidationError):
    """A grammar (JSON schema or regex) that cannot be compiled into constrained decoding."""


@dataclass(frozen=True)
class Grammar:
    """Constrained decoding: the completion must match ``value``.

    ``kind`` is ``"json"`` (``value``: a JSON schema as JSON text, so that grammars hash
    and compare by content) or ``"regex"`` (``value``: a regular expression).
    This is TGI's ``grammar`` parameter, ``{"type": "json", "value": schema}``.
    """

    kind: Literal["json", "regex"]
    value: str

    @classmethod
    def json_schema(cls, schema: Mapping[str, Any]) -> Grammar:
        if not isinstance(schema, Mapping):
            raise GrammarError(f"a JSON schema must be an object, got {type(schema).__name__}")
        # Key order is kept: it is the order in which properties are generated.
        return cls("json", json.dumps(schema, ensure_ascii=False))

    def __post_init__(self) -> None:
        if self.kind not in ("json", "regex") or not isinstance(self.value, str):
            raise GrammarError(f"grammar {self.kind!r} is invalid: expected json or regex text")

    @property
    def schema(self) -> dict[str, Any]:
        """The JSON schema of a ``json`` grammar."""
        value = json.loads(self.value)
        if self.kind != "json" or not isinstance(value, dict):
            raise GrammarError(f"a {self.kind} grammar has no JSON schema")
        return value


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters. ``None`` means the backend's default.

    ``temperature == 0`` (or ``None``) means greedy decoding; a positive temperature samples.
    """

    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    timeout: float | None = None
    grammar: Grammar | None = None
    """Constrain the completion to this grammar (backends with ``supports_grammar = True``)."""

    def __post_init__(self) -> None:
        _check_int("max_new_tokens", self.max_new_tokens, 1, MAX_NEW_TOKENS_LIMIT)
        _check_float("temperature", self.temperature, 0.0, 100.0, "a number in [0, 100]")
        if self.top_p is not None:
            _check_float("top_p", self.top_p, 0.0, 1.0, "a number in (0, 1]")
            if self.top_p == 0:
                raise InvalidParameterError("top_p", self.top_p, "a number in (0, 1]")
        _check_int("top_k", self.top_k, 1, 1_000_000)
        _check_float(
            "repetition_penalty", self.repetition_penalty, 0.0, 100.0, "a number in (0, 100]"
        )
        if self.repetition_penalty == 0:
            raise InvalidParameterError(
                "repetition_penalty", self.repetition_penalty, "a number in (0, 100]"
            )
        _check_int("seed", self.seed, 0, 2**64 - 1)
        _check_float("timeout", self.timeout, 0.0, math.inf, "a positive number of seconds")
        if self.timeout == 0:
            raise InvalidParameterError("timeout", self.timeout, "a positive number of seconds")
        if not isinstance(self.stop, tuple):
            raise InvalidParameterError("stop", self.stop, "a tuple of strings")
        if len(self.stop) > MAX_STOP_SEQUENCES:
            raise InvalidParameterError(
                "stop", f"<{len(self.stop)} sequences>", f"at most {MAX_STOP_SEQUENCES} sequences"
            )
        for position, sequence in enumerate(self.stop):
            if not isinstance(sequence, str) or not sequence:
                raise InvalidParameterError(f"stop[{position}]", sequence, "a non-empty string")
        if self.grammar is not None and not isinstance(self.grammar, Grammar):
            raise InvalidParameterError("grammar", self.grammar, "a Grammar")

    @property
    def greedy(self) -> bool:
        return not self.temperature


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to complete."""

    prompt: str
    params: GenerationParams = field(default_factory=GenerationParams)

    def __post_init__(self) -> None:
        # Before any backend tokenizes or sends it (see zephyr_integrations.limits).
        check_prompt(self.prompt)


@dataclass(frozen=True)
class Generation:
    """A finished completion. ``text`` has stop sequences and EOS cut off."""

    text: str
    finish_reason: FinishReason
    prompt_tokens: int | None
    """``None`` only when a remote server gives no count and none can be made locally."""
    completion_tokens: int
    model: str
    stop_sequence: str | None = None


@dataclass(frozen=True)
class TextDelta:
    """A piece of streamed text. The last event of a stream carries ``generation`` instead."""

    text: str = ""
    generation: Generation | None = None


@dataclass(frozen=True)
class TokenLimits:
    """How many tokens a model takes: ``max_input_tokens`` in a prompt, ``max_total_tokens`` in
    a prompt and its reply together (TGI's ``/info`` names). ``None`` where unknown.

    A backend that knows them says so with a ``token_limits()`` method; one that can count a
    prompt's tokens exactly as it counts ``prompt_tokens`` has a ``tokenize(text)`` method
    returning TGI ``/tokenize`` tokens ``(id, text, start, stop)``, special tokens included.
    """

    max_input_tokens: int | None
    max_total_tokens: int | None


@runtime_checkable
class Backend(Protocol):
    """A text-generation engine ChatZephyr can drive.

    ``generate`` receives a batch: an engine that can run requests together should (one padded
    forward pass rather than N) and says so with a class attribute ``batches_locally = True``,
    so that ``ChatZephyr.batch`` hands it the whole batch in one call. Without it, LangChain's
    concurrent batching (honouring ``max_concurrency``) is used. A backend that honours
    ``GenerationParams.grammar`` (constrained decoding) says so with ``supports_grammar = True``;
    without it, ChatZephyr refuses requests that need one rather than drop the constraint.
    ``stream`` yields :class:`TextDelta` pieces and ends with one whose ``generation`` is set.
    Closing a stream early must stop the work behind it.

    Candidates: a backend whose server returns several completions of one prompt in one request
    (OpenAI's ``n``) says so with ``async def agenerate_n(request, n) -> list[Generation]``;
    for any other, `agenerate_n` below fans out ``n`` requests (seeds ``seed``, ``seed + 1``,
    ... when a seed is set, so sampled candidates differ and are reproducible).
    """

    @property
    def model_name(self) -> str: ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]: ...

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[Generation]: ...

    def stream(self, request: GenerationRequest) -> Iterator[TextDelta]: ...

    def astream(self, request: GenerationRequest) -> AsyncIterator[TextDelta]: ...


MAX_CANDIDATES = 128


def nth_seed(params: GenerationParams, index: int) -> GenerationParams:
    """The parameters of candidate ``index``: ``seed + index`` when a seed is set."""
    if params.seed is None or index == 0:
        return params
    return dataclasses.replace(params, seed=(params.seed + index) % 2**64)


async def agenerate_n(backend: Backend, request: GenerationRequest, n: int) -> list[Generation]:
    """``n`` completions of ``request``: in one request where the backend can
    (``agenerate_n``), else ``n`` requests with distinct seeds given together."""
    _check_int("n", n, 1, MAX_CANDIDATES)
    own = getattr(backend, "agenerate_n", None)
    if own is not None:
        generations: list[Generation] = await own(request, n)
        return generations
    return await backend.agenerate(candidate_requests(request, range(n)))


def candidate_requests(request: GenerationRequest, indices: range) -> list[GenerationRequest]:
    """One request per candidate ``index`` of ``indices``, each with its own seed."""
    return [GenerationRequest(request.prompt, nth_seed(request.params, i)) for i in indices]


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameterError(name, value, f"an integer in [{low}, {high}]")


def _check_float(name: str, value: object, low: float, high: float, expected: str) -> None:
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or not low <= value <= high
    ):
        raise InvalidParameterError(name, value, expected)


BackendFactory = Callable[..., Backend]
"""Builds a backend: called as ``factory(model=..., **backend_kwargs)``; registered by name
through the ``register_backends`` hook."""
