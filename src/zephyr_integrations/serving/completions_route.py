"""The ``/v1/completions`` route of the TGI-protocol server, answered as vLLM answers it (see
:mod:`.openai_protocol`): the same validation and generation as TGI's native routes, in OpenAI's
request and response shapes."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

from zephyr_integrations.serving import openai_protocol as oai
from zephyr_integrations.serving.protocol_errors import ProtocolError, parse_json_body
from zephyr_integrations.serving.transport import Handler

if TYPE_CHECKING:
    from zephyr_integrations.serving.server import TGIServer


def serve_completion(server: TGIServer, h: Handler, raw: bytes) -> None:
    """Answer one completion request, as one body or as an SSE stream ending in ``[DONE]``."""
    model = server.model_id
    call = oai.parse_completion(parse_json_body(raw, h.headers["content-type"]), model)
    created = int(time.time())
    with contextlib.ExitStack() as held:
        try:
            if not call.stream:
                plan, done = server.run(call)
                counts = plan.input_length, done.completion_tokens
                body = oai.completion(model, created, done.text, done.finish_reason,
                                      done.stop_sequence, *counts)  # fmt: skip
                h.reply(200, body)
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
