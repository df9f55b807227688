"""TGI's wire format for a client: request bodies shaped as TGI validates them, answers read
as every TGI version since 1.x writes them (no ``index``, no ``input_length``, no
``x-prompt-tokens``), anything else raised as `ZephyrResponseError` naming the server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zephyr_integrations.backends.base import FinishReason, GenerationParams
from zephyr_integrations.errors import ZephyrResponseError

PROMPT_TOKENS_HEADER = "x-prompt-tokens"
FINISH_REASONS: frozenset[str] = frozenset({"eos_token", "stop_sequence", "length"})


@dataclass(frozen=True)
class Outcome:
    """What TGI reports at the end of a generation."""

    text: str
    finish_reason: FinishReason
    generated_tokens: int | None
    input_length: int | None = None


def parameters(
    params: GenerationParams, *, max_stop_sequences: int, truncate: int | None
) -> dict[str, Any]:
    """TGI's ``parameters`` for a request (``details`` always: exact counts and reasons)."""
    out: dict[str, Any] = {"details": True}
    if truncate is not None:
        out["truncate"] = truncate
    if params.max_new_tokens is not None:
        out["max_new_tokens"] = params.max_new_tokens
    if params.greedy:
        out["do_sample"] = False
    else:
        out["do_sample"] = True
        out["temperature"] = params.temperature
        if params.top_p is not None and params.top_p < 1.0:  # TGI refuses top_p = 1.0
            out["top_p"] = params.top_p
        if params.top_k is not None:
            out["top_k"] = params.top_k
    if params.repetition_penalty is not None:
        out["repetition_penalty"] = params.repetition_penalty
    if params.seed is not None:
        out["seed"] = params.seed
    if params.stop:
        # TGI takes at most max_stop_sequences; the rest are applied client-side.
        out["stop"] = list(params.stop[:max_stop_sequences])
    if params.grammar is not None:  # TGI's constrained decoding: {"type", "value"}
        grammar = params.grammar
        value = grammar.schema if grammar.kind == "json" else grammar.value
        out["grammar"] = {"type": grammar.kind, "value": value}
    return out


def read_generation(body: Any, url: str) -> Outcome:
    """A ``/generate`` answer (an object; ``POST /`` answers a list of one)."""
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    text = _field(body, "generated_text", str, url)
    details = _field(body, "details", dict, url)
    return _outcome(text, details, url)


def read_token(event: Any, url: str) -> tuple[str, bool]:
    """The text of a stream event's token and whether it is special (EOS)."""
    token = _field(event, "token", dict, url)
    return _field(token, "text", str, url, "token."), bool(token.get("special", False))


def read_final(event: dict[str, Any], url: str) -> Outcome | None:
    """The outcome carried by a stream's final event, ``None`` for any other event."""
    text = event.get("generated_text")
    details = event.get("details")
    if text is None and details is None:
        return None
    if not isinstance(text, str):
        text = ""
    if not isinstance(details, dict):
        raise _missing("details", url)
    return _outcome(text, details, url)


def _outcome(text: str, details: dict[str, Any], url: str) -> Outcome:
    reason = details.get("finish_reason")
    finish: FinishReason = reason if reason in FINISH_REASONS else "length"
    generated = details.get("generated_tokens")
    input_length = details.get("input_length")  # streams, since TGI 2.3
    return Outcome(
        text=text,
        finish_reason=finish,
        generated_tokens=generated if _is_count(generated) else None,
        input_length=input_length if _is_count(input_length) and input_length else None,
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _field(body: Any, name: str, kind: type, url: str, prefix: str = "") -> Any:
    if not isinstance(body, dict) or not isinstance(body.get(name), kind):
        raise _missing(prefix + name, url)
    return body[name]


def _missing(name: str, url: str) -> ZephyrResponseError:
    return ZephyrResponseError(
        f"the answer from {url} is not TGI's: field {name!r} is missing or has the wrong type",
        url=url,
    )
