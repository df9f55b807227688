"""OpenAI's ``/v1/completions`` as vLLM serves it, as pure functions (no sockets).

Requests are mapped onto TGI's native parameters so the server's one validation and
generation path serves them; answers have vLLM's shape: the stop string is cut from ``text``
and named in ``stop_reason``, ``finish_reason`` is ``stop`` or ``length``, ``usage`` is always
there, streams end with ``data: [DONE]`` (after a ``choices: []`` usage chunk when
``stream_options.include_usage`` is set). Errors are ``{"error": {"message", "type", "param",
"code"}}``. Contract-checked against bodies recorded from vLLM 0.32
(``tests/integration/data/vllm_completions.json``). Structured output: vLLM's
``structured_outputs`` (``json`` / ``regex``), or TGI's ``response_format`` (``type``, ``value``);
the legacy ``guided_json`` is ignored, as current vLLM does. ``n`` completions per request
(non-streamed), each sampled with its own seed.
"""

from __future__ import annotations

from typing import Any

from zephyr_integrations.serving.protocol_errors import ProtocolError
from zephyr_integrations.serving.tgi_bodies import FINGERPRINT, usage
from zephyr_integrations.serving.tgi_requests import GenerateCall, Grammar, Parameters
from zephyr_integrations.serving.tgi_validation import MAX_STOP_SEQUENCES

Json = dict[str, Any]


def error(message: str, status: int, param: str | None = None) -> ProtocolError:
    kind = {400: "BadRequestError", 404: "NotFoundError"}.get(status, "InternalServerError")
    body = {"error": {"message": message, "type": kind, "param": param, "code": status}}
    return ProtocolError(status, body)


def parse_completion(body: Any, served_model: str) -> GenerateCall:
    """A completion request as native parameters; vLLM's 400 / 404 for what it refuses."""
    if not isinstance(body, dict) or not isinstance(body.get("prompt"), str):
        raise error("'prompt' must be a string", 400, "prompt")
    model = body.get("model")
    if model is not None and model != served_model:
        raise error(f"The model `{model}` does not exist.", 404, "model")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise error(f"max_tokens must be at least 1, got {max_tokens}.", 400, "max_tokens")
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else list(stop)
    temperature = body.get("temperature", 1.0)
    structured = body.get("structured_outputs") or {}
    tgi_format = body.get("response_format") or {}  # TGI's /v1 shape: {"type", "value"}
    grammar = None
    if "json" in structured:
        grammar = Grammar("json", structured["json"])
    elif "regex" in structured:
        grammar = Grammar("regex", structured["regex"])
    elif isinstance(tgi_format, dict) and tgi_format.get("type") in ("json", "regex"):
        grammar = Grammar(tgi_format["type"], tgi_format.get("value"))
    sampling = bool(temperature)
    parameters = Parameters(
        temperature=temperature if sampling else None,
        do_sample=sampling,
        top_p=body.get("top_p") if sampling and body.get("top_p") not in (None, 1.0) else None,
        top_k=body.get("top_k") if sampling and body.get("top_k", -1) > 0 else None,
        repetition_penalty=body.get("repetition_penalty"),
        max_new_tokens=max_tokens,
        stop=tuple(stop[:MAX_STOP_SEQUENCES]),
        details=True,
        seed=body.get("seed"),
        grammar=grammar,
    )
    options = body.get("stream_options") or {}
    return GenerateCall(
        body["prompt"], parameters, bool(body.get("stream")), bool(options.get("include_usage"))
    )


def choices(body: Json) -> int:
    """``n``: how many completions one request asks for (vLLM's 400 when out of range)."""
    n = body.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise error(f"n must be an integer in [1, {MAX_N}], got {n!r}.", 400, "n")
    if n > 1 and body.get("stream"):
        raise error("this test server streams one choice per request (n=1)", 400, "n")
    return n


MAX_N = 16


def finish(finish_reason: str) -> str:
    return "length" if finish_reason == "length" else "stop"


def _envelope(model: str, created: int, choices: list[Json]) -> Json:
    return {"id": "cmpl-zephyr", "object": "text_completion", "created": created} | {
        "model": model,
        "choices": choices,
    }


Outcome = tuple[str, str, str | None, list[str] | None]
"""A choice: text, finish reason, stop string, and its tokens when ``logprobs`` was asked."""


def completion(model: str, created: int, outcomes: list[Outcome], prompt: int,
               generated: int) -> Json:  # fmt: skip
    """One choice per outcome; ``logprobs`` as vLLM gives them (``tokens`` per choice)."""
    listed = [
        {"index": index, "text": text, "logprobs": _logprobs(tokens),
         "finish_reason": finish(reason), "stop_reason": stop}
        for index, (text, reason, stop, tokens) in enumerate(outcomes)
    ]  # fmt: skip
    return (
        _envelope(model, created, listed)
        | {"usage": usage(prompt, generated)}
        | {"system_fingerprint": FINGERPRINT}
    )


def chunk(model: str, created: int, text: str, finish_reason: str | None,
          stop_reason: str | None = None) -> Json:  # fmt: skip
    reason = None if finish_reason is None else finish(finish_reason)
    choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": reason}
    choice["stop_reason"] = stop_reason
    return _envelope(model, created, [choice])  # as vLLM: no usage key before the last chunk


def usage_chunk(model: str, created: int, prompt: int, generated: int) -> Json:
    fingerprint = {"system_fingerprint": FINGERPRINT}
    return _envelope(model, created, []) | {"usage": usage(prompt, generated)} | fingerprint


def _logprobs(tokens: list[str] | None) -> Json | None:
    if tokens is None:
        return None
    offsets = [sum(len(t) for t in tokens[:k]) for k in range(len(tokens))]
    return {"text_offset": offsets, "token_logprobs": [0.0] * len(tokens), "tokens": tokens,
            "top_logprobs": [{t: 0.0} for t in tokens]}  # fmt: skip
