"""A Text Generation Inference server in front of any Backend, for tests and CPU development.

``TGIServer`` speaks TGI's HTTP protocol (v3.3.x) on 127.0.0.1 with the standard library only,
so TGI clients (``huggingface_hub.InferenceClient``, LangChain's ``HuggingFaceEndpoint`` and
``ChatHuggingFace``, or this project's own) can be tested without Docker or a GPU::

    with TGIServer(ScriptedBackend()) as server:
        InferenceClient(base_url=server.url).text_generation("Hello", max_new_tokens=5)

Routes: ``POST /`` (a JSON array, or SSE with ``"stream": true``), ``/generate``,
``/generate_stream``, ``/tokenize``, ``/v1/chat/completions``; ``GET /info``, ``/health``
(also ``/`` and ``/ping``), ``/v1/models``. Streams are SSE in chunked encoding, flushed per
event, closed after the last one; errors on native streams arrive in-band with HTTP 200, as
TGI sends them. Tests can inject faults (:meth:`TGIServer.fail_next`, ``latency``,
``token_latency``, :meth:`~TGIServer.cut_stream_after`, :meth:`~TGIServer.stream_error_after`)
and read every request received in :attr:`TGIServer.requests`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from zephyr_integrations.backends.base import Backend, Generation, GenerationRequest
from zephyr_integrations.limits import DEFAULT_PAYLOAD_LIMIT
from zephyr_integrations.template import EOS, format_messages
from zephyr_integrations.testing import tgi_protocol as tgi
from zephyr_integrations.testing.scripted_backend import whitespace_tokenize

Tokenizer = Callable[[str], list[tuple[int, str, int, int]]]


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received: ``headers`` has lower-case names, ``body`` is the parsed
    JSON body (``None`` when empty or not JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class _Event:
    """A streamed token; the final one carries the generation and the generated text."""

    token: tgi.Json
    generation: Generation | None = None
    text: str = ""


class TGIServer:
    """Serves ``backend`` over TGI's protocol on ``host:port`` (port 0: a free one).

    ``tokenizer`` maps a text to ``(id, text, start, stop)`` tokens, BOS included; it counts
    input tokens and serves ``/tokenize``. By default it is ``backend.tokenize``, else the
    Hugging Face tokenizer of a Transformers backend (``backend.engine.tokenizer``), else
    whitespace words. ``compat_return_full_text``: as TGI does for a model whose pipeline tag is
    ``text-generation``, ``POST /`` prepends the prompt to ``generated_text`` unless the request
    sets ``return_full_text``. ``version`` makes it answer as that TGI version did (see
    :class:`~.tgi_protocol.Quirks`).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        model_id: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_input_tokens: int = 4095,
        max_total_tokens: int = 4096,
        max_concurrent_requests: int = 128,
        api_key: str | None = None,
        tokenizer: Tokenizer | None = None,
        compat_return_full_text: bool = True,
        version: str = tgi.VERSION,
        payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
    ) -> None:
        if not 0 < max_input_tokens < max_total_tokens:
            raise ValueError("expected 0 < max_input_tokens < max_total_tokens, as TGI does")
        if payload_limit < 1:
            raise ValueError(f"payload_limit={payload_limit} must be at least 1 byte")
        self.payload_limit = payload_limit
        """The largest request body read, in bytes (TGI's ``--payload-limit``); a larger one is
        answered 413 before it is read, so it never reaches the tokenizer."""
        self.backend = backend
        self.model_id = model_id or backend.model_name
        self.host, self.port = host, port
        self.max_input_tokens, self.max_total_tokens = max_input_tokens, max_total_tokens
        self.max_concurrent_requests = max_concurrent_requests
        self.api_key = api_key
        self.compat_return_full_text = compat_return_full_text
        self.quirks = tgi.Quirks.of(version) if version != tgi.VERSION else tgi.Quirks()
        """How the answers differ from TGI 3.x (``version="1.3.4"``: no ``x-prompt-tokens``,
        no ``/tokenize``, ``data:`` without a space, no ``index``, no ``input_length``)."""
        self.tokenize: Tokenizer = tokenizer or _default_tokenizer(backend)
        self.latency = 0.0
        """Seconds added before answering each generation request (before the first token of
        a stream)."""
        self.token_latency = 0.0
        """Seconds between two events of a stream."""
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self._healthy = True
        self._failures: list[_Failure] = []
        self._ready_at = 0.0
        self._cut_after: int | None = None
        self._error_after: tuple[int, str, str] | None = None
        self._eos: tuple[int, str] | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.ignores_structured_output = False
        """Drop ``/v1/completions``' structured-output fields, as a server that does not know
        them (vLLM's legacy ``guided_json``) answers with unconstrained text."""

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not started: use `with TGIServer(...)` or start()")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> TGIServer:
        if self._httpd is None:
            self._httpd = _HTTPServer((self.host, self.port), self)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: close the socket and open connections, and join the thread."""
        httpd, thread, self._httpd, self._thread = self._httpd, self._thread, None, None
        if httpd is not None and thread is not None:
            httpd.shutdown()
            httpd.close_connections()
            httpd.server_close()
            thread.join()

    def __enter__(self) -> TGIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- switches and faults (thread-safe) ------------------------------------------------

    def set_healthy(self, healthy: bool) -> None:
        """``GET /health`` answers 200, or 503 ``healthcheck`` once set unhealthy."""
        self._healthy = healthy

    @property
    def in_flight(self) -> int:
        """Generation requests being answered now."""
        return self._in_flight

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted since the start (to see a client's pooling)."""
        return 0 if self._httpd is None else self._httpd.accepted

    @property
    def connections_open(self) -> int:
        """TCP connections open now."""
        return 0 if self._httpd is None else len(self._httpd.connections)

    def fail_next(self, n: int = 1, status: int = 503, message: str | None = None,
                  body: dict[str, Any] | None = None, *, route: str | None = None,
                  retry_after: float | None = None) -> None:  # fmt: skip
        """Answer the next ``n`` generation requests (or requests to ``route``, e.g. ``/info``
        or ``/tokenize``) with HTTP ``status`` and TGI's error body for it (424 ``generation``,
        429 ``overloaded``, 500 ``incomplete_generation``, 503 ``unavailable``), its ``error``
        replaced by ``message``; or with ``body`` (e.g. a Hugging Face endpoint's 503 while its
        model loads, ``{"error": ..., "estimated_time": 20.0}``, which has no ``error_type``).

        As real TGI, ``/generate_stream`` reports the errors TGI itself raises (422, 424, 429,
        500) in-band: HTTP 200 and an error event before any token. Other statuses (503, from
        whatever stands in front of TGI) stay HTTP statuses. ``retry_after`` adds that header.
        """
        failure = dict(tgi.FAULT_BODIES.get(status, {"error": "Injected failure"}))
        failure = body if body is not None else failure | ({"error": message} if message else {})
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        with self._lock:
            self._failures.extend([_Failure(route, status, failure, headers)] * n)

    def scale_from_zero(self, seconds: float) -> None:
        """For the next ``seconds``, answer 503 on every route, ``/info`` included, as an
        endpoint scaling up from zero does until its model is loaded."""
        self._ready_at = time.monotonic() + seconds

    def cut_stream_after(self, k: int) -> None:
        """Drop the connection of the next stream after ``k`` events: no final event."""
        with self._lock:
            self._cut_after = k

    def stream_error_after(self, k: int, message: str = "Request failed during generation: "
                           "injected failure", error_type: str = "generation") -> None:  # fmt: skip
        """Send an in-band error event (HTTP 200) in the next stream after ``k`` events."""
        with self._lock:
            self._error_after = (k, message, error_type)

    def reset_faults(self) -> None:
        with self._lock:
            self._failures.clear()
            self._cut_after = self._error_after = None
        self.latency = self.token_latency = self._ready_at = 0.0

    def constrained_decoding(self, plan: tgi.Plan) -> tgi.Plan:
        """The one place for grammars (``grammar``, ``response_format``, tools): return a plan
        whose generation follows ``plan.grammar`` (see :mod:`.tgi_grammar`), or TGI's 422."""
        from zephyr_integrations.testing.tgi_grammar import constrain

        return constrain(self.backend, plan)

    # -- routes ---------------------------------------------------------------------------

    def _handle(self, h: _Handler, method: str) -> None:
        path = h.path.split("?")[0]
        try:
            length = int(h.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > self.payload_limit:
            # As TGI's router (axum's body limit): refused unread, and the connection closed.
            h.close_connection = True
            h.reply(413, "Failed to buffer the request body: length limit exceeded")
            return
        raw = h.rfile.read(length)
        self._record(method, path, h, raw)
        routes: dict[tuple[str, str], Callable[[_Handler, bytes], None]] = {
            ("GET", "/"): self._health,
            ("GET", "/health"): self._health,
            ("GET", "/ping"): self._health,
            ("GET", "/info"): self._info,
            ("GET", "/v1/models"): self._models,
            ("POST", "/"): lambda h, raw: self._native(h, raw, compat=True),
            ("POST", "/generate"): lambda h, raw: self._native(h, raw, stream=False),
            ("POST", "/generate_stream"): lambda h, raw: self._native(h, raw, stream=True),
            ("POST", "/tokenize"): self._tokenize_route,
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/v1/completions"): self._completions,
        }
        route = routes.get((method, path))
        try:
            if route is None:
                raise tgi.ProtocolError(405 if any(path == p for _, p in routes) else 404, "")
            bearer = f"Bearer {self.api_key}"
            if (
                method == "POST"
                and self.api_key is not None
                and h.headers["authorization"] != bearer
            ):
                raise tgi.ProtocolError(401, "")
            if time.monotonic() < self._ready_at:
                raise tgi.ProtocolError(503, dict(tgi.FAULT_BODIES[503]))
            if self._inject_failure(h, path):
                return
            route(h, raw)
        except tgi.ProtocolError as exc:
            h.reply(exc.status, exc.body, exc.headers)
        except OSError:  # the client went away
            h.close_connection = True

    def _record(self, method: str, path: str, h: _Handler, raw: bytes) -> None:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in h.headers.items()}
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body))

    def _health(self, h: _Handler, raw: bytes) -> None:
        if not self._healthy:
            raise tgi.ProtocolError(503, tgi.error_body("unhealthy", "healthcheck"))
        h.reply(200, b"")

    def _info(self, h: _Handler, raw: bytes) -> None:
        concurrency = self.max_concurrent_requests
        body = tgi.info(self.model_id, max_concurrent_requests=concurrency, **self._limits)
        body["version"] = self.quirks.version
        if not self.quirks.info_max_input_tokens:
            body["max_input_length"] = body.pop("max_input_tokens")
        h.reply(200, body)

    def _models(self, h: _Handler, raw: bytes) -> None:
        model = {"id": self.model_id, "object": "model", "created": 0, "owned_by": self.model_id}
        h.reply(200, {"object": "list", "data": [model]})

    def _tokenize_route(self, h: _Handler, raw: bytes) -> None:
        if not self.quirks.tokenize_route:
            raise tgi.ProtocolError(404, "")
        call = tgi.parse_generate(tgi.parse_json_body(raw, h.headers["content-type"]), compat=False)
        keys = ("id", "text", "start", "stop")
        h.reply(200, [dict(zip(keys, token, strict=True)) for token in self.tokenize(call.inputs)])

    def _native(
        self, h: _Handler, raw: bytes, *, compat: bool = False, stream: bool | None = None
    ) -> None:
        call = tgi.parse_generate(
            tgi.parse_json_body(raw, h.headers["content-type"]), compat=compat
        )
        p = call.parameters
        full = p.return_full_text
        if full is None:
            full = compat and self.compat_return_full_text
        prefix = call.inputs if full else ""
        if call.stream if stream is None else stream:
            self._stream(h, call, prefix=prefix)
            return
        if (p.best_of or 1) > tgi.MAX_BEST_OF:
            raise tgi.invalid(f"`best_of` must be > 0 and <= {tgi.MAX_BEST_OF}. Given: {p.best_of}")
        plan, generation = self._run(call)
        text = generation.text + (generation.stop_sequence or "")
        details = None
        if p.details or p.decoder_input_details:
            tokens = [tgi.token(i, t) for i, t, start, stop in self.tokenize(text) if stop > start]
            if generation.finish_reason == "eos_token":
                tokens.append(self._eos_token())
            prefill = tgi.prefill(self.tokenize(plan.inputs)) if p.decoder_input_details else []
            reason, count = generation.finish_reason, generation.completion_tokens
            details = tgi.details(reason, count, plan.seed, prefill, tokens)
        body = {"generated_text": prefix + text} | ({} if details is None else {"details": details})
        headers = _headers(plan, generation)
        if not self.quirks.prompt_tokens_header:
            del headers["x-prompt-tokens"]
        h.reply(200, [body] if compat else body, headers)

    def _chat(self, h: _Handler, raw: bytes) -> None:
        call = tgi.parse_chat(tgi.parse_json_body(raw, h.headers["content-type"]))
        try:
            call = dataclasses.replace(call, inputs=format_messages(call.inputs))
        except Exception as exc:  # whatever the messages are, they do not render
            raise tgi.failure("template_error", f"Template error: {exc}") from exc
        if call.stream:
            self._stream(h, call, chat=True)
            return
        plan, generation = self._run(call)
        text = generation.text + (generation.stop_sequence or "")
        reason = tgi.chat_finish_reason(generation.finish_reason)
        body = tgi.chat_completion(self.model_id, int(time.time()), text, reason,
                                   plan.input_length, generation.completion_tokens)  # fmt: skip
        h.reply(200, body, _headers(plan, generation))

    def _completions(self, h: _Handler, raw: bytes) -> None:
        """OpenAI's ``/v1/completions`` as vLLM answers it (see :mod:`.openai_protocol`)."""
        from zephyr_integrations.testing import openai_protocol as oai

        body = tgi.parse_json_body(raw, h.headers["content-type"])
        call, n = oai.parse_completion(body, self.model_id), oai.choices(body)
        if self.ignores_structured_output:  # as a server that drops a field it does not know
            free = dataclasses.replace(call.parameters, grammar=None)
            call = dataclasses.replace(call, parameters=free)
        created = int(time.time())
        try:
            if not call.stream:
                runs = [self._run(_nth_seed(call, i)) for i in range(n)]
                outcomes = [(g.text, str(g.finish_reason), g.stop_sequence,
                             self._tokens(g) if body.get("logprobs") is not None else None)
                            for _, g in runs]  # fmt: skip
                tokens = sum(g.completion_tokens for _, g in runs)
                h.reply(200, oai.completion(self.model_id, created, outcomes,
                                            runs[0][0].input_length, tokens))  # fmt: skip
                return
            with self._slot():
                plan = self._plan(call)
        except tgi.ProtocolError as exc:  # TGI's validation, in OpenAI's error shape
            if isinstance(exc.body, dict) and isinstance(exc.body.get("error"), dict):
                raise
            message = exc.body if isinstance(exc.body, str) else str(exc.body.get("error"))
            raise oai.error(message, 400 if exc.status in (400, 422) else exc.status) from exc
        h.open_stream()
        text = ""
        with contextlib.closing(self._events(plan)) as events:
            for event in events:
                g = event.generation
                piece = "" if event.token["special"] else event.token["text"]
                if g is not None:  # vLLM cuts the stop string and names it
                    piece = g.text[len(text) :]
                text += piece
                reason = None if g is None else g.finish_reason
                stop = None if g is None else g.stop_sequence
                h.event(oai.chunk(self.model_id, created, piece, reason, stop))
                if g is not None and call.include_usage:
                    usage = oai.usage_chunk(self.model_id, created, plan.input_length,
                                            g.completion_tokens)  # fmt: skip
                    h.event(usage)
        h.event("[DONE]")
        h.close_stream()

    # -- generation -----------------------------------------------------------------------

    def _run(self, call: tgi.GenerateCall) -> tuple[tgi.Plan, Generation]:
        with self._slot():
            plan = self._plan(call)
            time.sleep(self.latency)
            try:
                generation = self.backend.generate([GenerationRequest(plan.inputs, plan.params)])[0]
            except Exception as exc:
                raise tgi.failure("generation", f"Request failed during generation: {exc}") from exc
        return plan, generation

    @property
    def _limits(self) -> dict[str, int]:
        return {
            "max_input_tokens": self.max_input_tokens,
            "max_total_tokens": self.max_total_tokens,
        }

    def _plan(self, call: tgi.GenerateCall) -> tgi.Plan:
        plan = tgi.validate(call.parameters, call.inputs, self.tokenize, **self._limits)
        return plan if plan.grammar is None else self.constrained_decoding(plan)

    def _stream(
        self, h: _Handler, call: tgi.GenerateCall, *, chat: bool = False, prefix: str = ""
    ) -> None:
        with self._lock:  # this stream takes the stream faults
            cut, error = self._cut_after, self._error_after
            self._cut_after = self._error_after = None
        h.open_stream()
        try:
            if not chat and (call.parameters.best_of or 1) != 1:
                raise tgi.invalid("`best_of` != 1 is not supported when streaming tokens")
            if not chat and call.parameters.decoder_input_details:
                raise tgi.invalid(
                    "`decoder_input_details` == true is not supported when streaming tokens"
                )
            with self._slot():
                plan = self._plan(call)
                time.sleep(self.latency)
                created = int(time.time())
                with contextlib.closing(self._events(plan)) as events:
                    for index, event in enumerate(events, start=1):
                        if cut is not None and index > cut:
                            h.cut()
                            return
                        if error is not None and index > error[0]:
                            raise tgi.failure(error[2], error[1])
                        time.sleep(self.token_latency if index > 1 else 0.0)
                        if chat:
                            self._send_chat_event(h, call, plan, event, created)
                        else:
                            self._send_native_event(h, call, plan, event, index, prefix)
        except tgi.ProtocolError as exc:
            body = (
                exc.body if isinstance(exc.body, dict) else tgi.error_body(exc.body, "validation")
            )
            h.event(tgi.chat_stream_error(body["error"], exc.status) if chat else body)
        if chat:
            h.event("[DONE]")
        h.close_stream()

    def _send_native_event(self, h: _Handler, call: tgi.GenerateCall, plan: tgi.Plan,
                           event: _Event, index: int, prefix: str) -> None:  # fmt: skip
        g = event.generation
        details = None
        if g is not None and call.parameters.details:
            details = tgi.stream_details(
                g.finish_reason, g.completion_tokens, plan.seed, plan.input_length
            )
            if not self.quirks.stream_input_length:
                del details["input_length"]
        text = None if g is None else prefix + event.text
        payload = tgi.stream_event(index, event.token, text, details)
        if not self.quirks.event_index:
            del payload["index"]
        h.event(payload)

    def _send_chat_event(self, h: _Handler, call: tgi.GenerateCall, plan: tgi.Plan,
                         event: _Event, created: int) -> None:  # fmt: skip
        g = event.generation
        content = "" if event.token["special"] else event.token["text"]
        reason = None if g is None else tgi.chat_finish_reason(g.finish_reason)
        h.event(tgi.chat_chunk(self.model_id, created, content, reason))
        if g is not None and call.include_usage:
            h.event(
                tgi.chat_usage_chunk(self.model_id, created, plan.input_length, g.completion_tokens)
            )

    def _events(self, plan: tgi.Plan) -> Generator[_Event, None, None]:
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
                    yield _Event(self._token(pending))
                pending = delta.text or pending
        except Exception as exc:
            raise tgi.failure("generation", f"Request failed during generation: {exc}") from exc
        finally:
            getattr(stream, "close", lambda: None)()
        if generation is None:
            raise tgi.failure("incomplete_generation_stream", "Incomplete generation stream")
        stop = generation.stop_sequence or ""
        if generation.finish_reason == "eos_token":
            if pending is not None:
                yield _Event(self._token(pending))
            last = self._eos_token()
        else:
            last = self._token((pending or "") + stop)
        yield _Event(last, generation, generation.text + stop)

    def _tokens(self, generation: Generation) -> list[str]:
        """The generated tokens' texts (EOS as ``""``), for ``logprobs``."""
        texts = [t for _, t, start, stop in self.tokenize(generation.text) if stop > start]
        return texts + [""] * max(0, generation.completion_tokens - len(texts))

    def _token(self, text: str) -> tgi.Json:
        ids = [i for i, _, start, stop in self.tokenize(text) if stop > start]
        return tgi.token(ids[0] if ids else 0, text)

    def _eos_token(self) -> tgi.Json:
        if self._eos is None:
            backend: Any = self.backend
            if hasattr(backend, "eos_token_id") and hasattr(backend, "eos_token"):
                self._eos = (backend.eos_token_id, backend.eos_token)
            elif getattr(type(backend), "engine", None) is not None:
                tokenizer = backend.engine.tokenizer
                self._eos = (int(tokenizer.eos_token_id), str(tokenizer.eos_token))
            else:
                self._eos = (2, EOS)
        return tgi.token(*self._eos, special=True)

    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        with self._lock:
            if self._in_flight >= self.max_concurrent_requests:
                raise tgi.failure("overloaded", "Model is overloaded")
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def _inject_failure(self, h: _Handler, path: str) -> bool:
        """Answer with the next injected failure meant for ``path``; False when there is none."""
        with self._lock:
            index = next(
                (i for i, f in enumerate(self._failures)
                 if (f.route or path) == path and (f.route or path in _GENERATION_ROUTES)),
                None,
            )  # fmt: skip
            if index is None:
                return False
            failure = self._failures.pop(index)
        if path == "/generate_stream" and failure.status in _IN_BAND:
            h.open_stream()
            h.event(failure.body)
            h.close_stream()
            return True
        raise tgi.ProtocolError(failure.status, dict(failure.body), failure.headers)


@dataclass(frozen=True)
class _Failure:
    route: str | None
    status: int
    body: tgi.Json
    headers: dict[str, str]


_GENERATION_ROUTES = frozenset(
    {"/", "/generate", "/generate_stream", "/v1/chat/completions", "/v1/completions"}
)
_IN_BAND = frozenset({422, 424, 429, 500})
"""Statuses TGI's router raises itself: on ``/generate_stream`` they arrive as events."""


def _nth_seed(call: tgi.GenerateCall, index: int) -> tgi.GenerateCall:
    """The ``index``-th of ``n`` completions: its own seed, so sampled choices differ."""
    seed = call.parameters.seed
    if index == 0 or seed is None:
        return call
    own = dataclasses.replace(call.parameters, seed=seed + index)
    return dataclasses.replace(call, parameters=own)


def _headers(plan: tgi.Plan, generation: Generation) -> dict[str, str]:
    return {
        "x-compute-type": "cpu",
        "x-compute-characters": str(len(plan.inputs)),
        "x-prompt-tokens": str(plan.input_length),
        "x-generated-tokens": str(generation.completion_tokens),
    }


def _default_tokenizer(backend: Any) -> Tokenizer:
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
    return whitespace_tokenize


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK stall every kept-alive response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.server.app._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.app._handle(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``TGIServer.requests`` instead."""

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """JSON (a dict or list), text/plain (a non-empty str) or nothing (b"" or "")."""
        data, kind = b"", None
        if isinstance(body, dict | list):
            data, kind = tgi.compact(body), "application/json"
        elif body:
            data, kind = body.encode(), "text/plain; charset=utf-8"
        self.send_response(status)
        if kind:
            self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def open_stream(self) -> None:
        self.send_response(200)
        # Chunked on a kept-alive connection, as TGI's router streams.
        headers = {
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "Transfer-Encoding": "chunked",
            "X-Accel-Buffering": "no",
        }
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def event(self, payload: Any) -> None:
        """One SSE event as one HTTP chunk, sent at once."""
        data = tgi.sse(payload, space=self.server.app.quirks.sse_space)
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def close_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def cut(self) -> None:
        """Drop the connection mid-stream, as a crashed server would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops bursts of new connections (the client then
    # waits a second for a SYN retransmit): size it like a real server's.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], app: TGIServer) -> None:
        self.app = app
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.accepted = 0
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
            self.accepted += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
