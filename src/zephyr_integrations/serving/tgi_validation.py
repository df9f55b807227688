"""TGI's ``Validation::validate``: a deserialized request checked as TGI checks it, in TGI's
order and with its messages (a JSON 422 ``{"error": "Input validation error: ...",
"error_type": "validation"}``), and turned into the backend's parameters."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zephyr_integrations.backends.base import GenerationParams, InvalidParameterError
from zephyr_integrations.serving.protocol_errors import invalid
from zephyr_integrations.serving.tgi_requests import Grammar, Parameters

MAX_BEST_OF, MAX_STOP_SEQUENCES, MAX_TOP_N_TOKENS = 2, 4, 5
Tokenize = Callable[[str], list[tuple[int, str, int, int]]]


@dataclass(frozen=True)
class Plan:
    """A validated request: the prompt, its length in tokens, and the backend's parameters."""

    inputs: str
    input_length: int
    params: GenerationParams
    seed: int | None
    """The sampling seed (TGI draws one when none is given); ``None`` for greedy decoding."""
    grammar: Grammar | None


def validate(p: Parameters, inputs: str, tokenize: Tokenize, *, max_input_tokens: int,
             max_total_tokens: int) -> Plan:  # fmt: skip
    """TGI's ``Validation::validate``: the same checks in the same order, with its messages.

    As TGI's ``NextTokenChooser`` decides, a request samples when ``do_sample`` is true or any
    warper is set (temperature other than 1, top_k, top_p, typical_p); otherwise it is greedy.
    """
    best_of = 1 if p.best_of is None else p.best_of
    warpers = p.temperature not in (None, 1.0) or p.top_k or p.top_p or p.typical_p
    sampling = bool(p.do_sample or warpers)
    checks = [
        (best_of > 1 and not sampling, "you must use sampling when `best_of` is > 1"),
        (p.temperature is not None and p.temperature <= 0,
         "`temperature` must be strictly positive"),
        (p.repetition_penalty is not None and p.repetition_penalty <= 0,
         "`repetition_penalty` must be strictly positive"),
        (p.frequency_penalty is not None and not -2 <= p.frequency_penalty <= 2,
         "`frequency_penalty` must be >= -2.0 and <= 2.0"),
        (p.top_p is not None and not 0 < p.top_p < 1, "`top_p` must be > 0.0 and < 1.0"),
        (p.typical_p is not None and not 0 < p.typical_p < 1,
         "`typical_p` must be > 0.0 and < 1.0"),
        (p.top_k is not None and p.top_k <= 0, "`top_k` must be strictly positive"),
        (p.max_new_tokens == 0, "`max_new_tokens` must be strictly positive"),
        (len(p.stop) > MAX_STOP_SEQUENCES,
         f"`stop` supports up to {MAX_STOP_SEQUENCES} stop sequences. Given: {len(p.stop)}"),
        (p.seed is not None and best_of > 1, "`seed` must not be set when `best_of` > 1"),
        ((p.top_n_tokens or 0) > MAX_TOP_N_TOKENS,
         f"`top_n_tokens` must be >= 0 and <= {MAX_TOP_N_TOKENS}. Given: {p.top_n_tokens}"),
        (not inputs, "`inputs` cannot be empty"),
        (p.truncate is not None and not 0 < p.truncate <= max_input_tokens,
         f"`truncate` must be strictly positive and less than {max_input_tokens}. "
         f"Given: {p.truncate}"),
    ]  # fmt: skip
    for failed, message in checks:
        if failed:
            raise invalid(message)
    tokens = tokenize(inputs)
    if p.truncate is not None and len(tokens) > p.truncate:
        tokens = tokens[-p.truncate :]
        inputs = inputs[min(token[2] for token in tokens) :]
    input_length = len(tokens)
    max_new = (
        max(max_total_tokens - input_length, 0) if p.max_new_tokens is None else p.max_new_tokens
    )
    if input_length + max_new > max_total_tokens:
        raise invalid(
            f"`inputs` tokens + `max_new_tokens` must be <= {max_total_tokens}. "
            f"Given: {input_length} `inputs` tokens and {max_new} `max_new_tokens`"
        )
    if input_length > max_input_tokens:
        raise invalid(
            f"`inputs` must have less than {max_input_tokens} tokens. Given: {input_length}"
        )
    if p.grammar is not None:
        check_grammar(p.grammar)
    seed = (random.getrandbits(63) if p.seed is None else p.seed) if sampling else None
    try:
        params = GenerationParams(
            max_new_tokens=max(max_new, 1),
            temperature=(1.0 if p.temperature is None else p.temperature) if sampling else None,
            top_p=p.top_p if sampling else None,
            top_k=p.top_k if sampling else None,
            repetition_penalty=p.repetition_penalty,
            stop=p.stop,
            seed=seed,
        )
    except InvalidParameterError as exc:
        raise invalid(str(exc)) from exc
    return Plan(inputs, input_length, params, seed, p.grammar)


def grammar_schema(grammar: Grammar) -> dict[str, Any]:
    """A JSON grammar's schema (given as an object or as JSON text), or TGI's 422."""
    schema = grammar.value
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise invalid(f"grammar is not valid: {exc}") from exc
    if not isinstance(schema, dict):
        raise invalid("grammar is not supported")
    return schema


def check_grammar(grammar: Grammar) -> None:
    """TGI's checks on a grammar's content (a JSON schema needs ``properties``)."""
    if grammar.kind == "regex":
        return
    if "properties" not in grammar_schema(grammar):
        raise invalid("grammar is not valid: Grammar must have a 'properties' field")
