"""The ``/v1/completions`` route of the TGI-protocol server, answered as vLLM answers it (see
:mod:`.openai_protocol`): the same validation and generation as TGI's native routes, in OpenAI's
request and response shapes."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import TYPE_CHECKING

from zephyr_integrations.serving import openai_protocol as oai
from zephyr_integrations.serving.protocol_errors import ProtocolError, parse_json_body
from zephyr_integrations.serving.transport import Handler

if TYPE_CHECKING:
    from zephyr_integrations.backends.base import Generation
    from zephyr_integrations.serving.server import TGIServer
    from zephyr_integrations.serving.tgi_requests import GenerateCall


def serve_completion(server: TGIServer, h: Handler, raw: bytes) -> None:
    """Answer one completion request, as one body or as an SSE stream ending in ``[DONE]``."""
    model = server.model_id
    body = parse_json_body(raw, h.headers["content-type"])
    call, n = oai.parse_completion(body, model), oai.choices(body)
    call = server._completion_call(call)
    created = int(time.time())
    with contextlib.ExitStack() as held:
        try:
            if not call.stream:
                runs = [server.run(_nth_seed(call, i)) for i in range(n)]
                logprobs = body.get("logprobs") is not None
                outcomes: list[oai.Outcome] = [
                    (g.text, str(g.finish_reason), g.stop_sequence,
                     _token_texts(server, g) if logprobs else None)
                    for _, g in runs
                ]  # fmt: skip
                generated = sum(g.completion_tokens for _, g in runs)
                h.reply(200, oai.completion(model, created, outcomes, runs[0][0].input_length,
                                            generated))  # fmt: skip
                return
            held.enter_context(server.slot())  # the stream holds its slot to the end
            plan = server.plan(call)
        except ProtocolError as exc:  # TGI's validation, in OpenAI's error shape
            if isinstance(exc.body, dict) and isinstance(exc.body.get("error"), dict):
                raise
            message = exc.body if isinstance(exc.body, str) else str(exc.body.get("error"))
            raise oai.error(message, 400 if exc.status in (400, 422) else exc.status) from exc
        h.open_stream()
        text = ""
        with contextlib.closing(server.tokens.events(plan)) as events:
            for event in events:
                g = event.generation
                piece = "" if event.token["special"] else event.token["text"]
                if g is not None:  # vLLM cuts the stop string and names it
                    piece = g.text[len(text) :]
                text += piece
                reason = None if g is None else g.finish_reason
                stop = None if g is None else g.stop_sequence
                h.event(oai.chunk(model, created, piece, reason, stop))
                if g is not None and call.include_usage:
                    h.event(oai.usage_chunk(model, created, plan.input_length,
                                            g.completion_tokens))  # fmt: skip
        h.event("[DONE]")
        h.close_stream()


def _nth_seed(call: GenerateCall, index: int) -> GenerateCall:
    """The ``index``-th of ``n`` completions: its own seed, so sampled choices differ."""
    seed = call.parameters.seed
    if index == 0 or seed is None:
        return call
    own = dataclasses.replace(call.parameters, seed=seed + index)
    return dataclasses.replace(call, parameters=own)


def _token_texts(server: TGIServer, generation: Generation) -> list[str]:
    """The generated tokens' texts (EOS as ``""``), for ``logprobs``."""
    texts = [t for _, t, start, stop in server.tokenize(generation.text) if stop > start]
    return texts + [""] * max(0, generation.completion_tokens - len(texts))
