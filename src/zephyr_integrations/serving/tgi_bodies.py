"""TGI's response bodies (v3.3.x) as pure functions: TGI's field names, field order and
explicit nulls, and :class:`Quirks` for what older versions wrote differently. No sockets here:
see :mod:`.transport`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from zephyr_integrations.serving.tgi_validation import MAX_BEST_OF, MAX_STOP_SEQUENCES

VERSION = "3.3.7-zephyr-integrations"
FINGERPRINT = f"{VERSION}-native"
Json = dict[str, Any]


@dataclass(frozen=True)
class Quirks:
    """What a TGI version writes differently from 3.x, from the router's history.

    ``x-prompt-tokens`` and ``/tokenize`` date from 1.4; the ``data: `` space and
    ``max_input_tokens`` (was ``max_input_length``) from 2.1; a stream's ``input_length`` from
    2.3. Stream events of 2.0 and older replayed without ``index``, so they have none here.
    """

    version: str = VERSION
    prompt_tokens_header: bool = True
    tokenize_route: bool = True
    sse_space: bool = True
    info_max_input_tokens: bool = True
    stream_input_length: bool = True
    event_index: bool = True

    @classmethod
    def of(cls, version: str) -> Quirks:
        numbers = [int(part) for part in version.split("-")[0].split(".") if part.isdigit()]
        v = tuple(numbers + [0] * (3 - len(numbers)))
        return cls(
            version=version,
            prompt_tokens_header=v >= (1, 4, 0),
            tokenize_route=v >= (1, 4, 0),
            sse_space=v >= (2, 1, 0),
            info_max_input_tokens=v >= (2, 1, 0),
            stream_input_length=v >= (2, 3, 0),
            event_index=v >= (2, 1, 0),
        )


def sse(payload: Any, *, space: bool = True) -> bytes:
    """One Server-Sent Event: ``data: <compact json>`` and a blank line; TGI <= 2.0 (axum 0.6)
    wrote ``data:<json>``, without the space."""
    data = payload.encode() if isinstance(payload, str) else compact(payload)
    return (b"data: " if space else b"data:") + data + b"\n\n"


def compact(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def token(token_id: int, text: str, *, special: bool = False) -> Json:
    """A generated token. Log-probabilities are not computed: 0.0 stands in for them."""
    return {"id": token_id, "text": text, "logprob": 0.0, "special": special}


def details(finish_reason: str, generated: int, seed: int | None, prefill: list[Json],
            tokens: list[Json]) -> Json:  # fmt: skip
    """Non-stream ``details``; ``prefill`` is empty unless ``decoder_input_details`` was set."""
    head = {"finish_reason": finish_reason, "generated_tokens": generated, "seed": seed}
    return head | {"prefill": prefill, "tokens": tokens}


def prefill(tokens: list[tuple[int, str, int, int]]) -> list[Json]:
    """The prompt's tokens (``decoder_input_details``): the first has no logprob."""
    return [{"id": t[0], "text": t[1], "logprob": 0.0 if n else None} for n, t in enumerate(tokens)]


def stream_event(
    index: int, token: Json, text: str | None = None, details: Json | None = None
) -> Json:
    """A ``/generate_stream`` event: ``generated_text`` and ``details`` are explicit nulls."""
    return {"index": index, "token": token, "generated_text": text, "details": details}


def stream_details(finish_reason: str, generated: int, seed: int | None, input_length: int) -> Json:
    return {"finish_reason": finish_reason, "generated_tokens": generated, "seed": seed} | {
        "input_length": input_length
    }


def chat_finish_reason(finish_reason: str) -> str:
    """The chat API says ``stop`` for ``eos_token``; other reasons are unchanged."""
    return "stop" if finish_reason == "eos_token" else finish_reason


def usage(prompt: int, completion: int) -> Json:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chat(kind: str, model: str, created: int, choices: list[Json]) -> Json:
    return {"object": kind, "id": "", "created": created, "model": model} | {
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
    }


def chat_completion(model: str, created: int, content: str, finish_reason: str, prompt: int,
                    completion: int) -> Json:  # fmt: skip
    message = {"role": "assistant", "content": content}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
    return _chat("chat.completion", model, created, [choice]) | {"usage": usage(prompt, completion)}


def chat_chunk(model: str, created: int, content: str, finish_reason: str | None) -> Json:
    delta = {"role": "assistant", "content": content}
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return _chat("chat.completion.chunk", model, created, [choice]) | {"usage": None}


def chat_usage_chunk(model: str, created: int, prompt: int, completion: int) -> Json:
    return _chat("chat.completion.chunk", model, created, []) | {"usage": usage(prompt, completion)}


def chat_stream_error(message: str, status: int) -> Json:
    return {"error": {"message": message, "http_status_code": status}}


def info(model_id: str, *, max_concurrent_requests: int, max_input_tokens: int,
         max_total_tokens: int) -> Json:  # fmt: skip
    """``GET /info`` with TGI 3.x's field names, in TGI's order."""
    return {
        "model_id": model_id,
        "model_sha": None,
        "model_pipeline_tag": "text-generation",
        "max_concurrent_requests": max_concurrent_requests,
        "max_best_of": MAX_BEST_OF,
        "max_stop_sequences": MAX_STOP_SEQUENCES,
        "max_input_tokens": max_input_tokens,
        "max_total_tokens": max_total_tokens,
        "validation_workers": 2,
        "max_client_batch_size": 4,
        "router": "text-generation-router",
        "version": VERSION,
        "sha": None,
        "docker_label": None,
    }
