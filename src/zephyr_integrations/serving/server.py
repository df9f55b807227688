"""A Text Generation Inference server in front of any Backend: what ``zephyr serve`` runs.

``TGIServer`` speaks TGI's HTTP protocol (v3.3.x) on 127.0.0.1 with the standard library only,
so TGI clients (``huggingface_hub.InferenceClient``, LangChain's ``HuggingFaceEndpoint`` and
``ChatHuggingFace``, or this project's own) work without Docker or a GPU::

    with TGIServer(TransformersBackend("./my-model")) as server:
        InferenceClient(base_url=server.url).text_generation("Hello", max_new_tokens=5)

Routes: ``POST /`` (a JSON array, or SSE with ``"stream": true``), ``/generate``,
``/generate_stream``, ``/tokenize``, ``/v1/chat/completions``, ``/v1/completions`` (as vLLM
answers it, see :mod:`.completions_route`); ``GET /info``, ``/health`` (also ``/`` and
``/ping``), ``/v1/models``. Streams are SSE in chunked encoding, flushed per event, on a
kept-alive connection; errors on native streams arrive in-band with HTTP 200, as TGI sends them.

Fault injection and request recording for tests live in a subclass,
:class:`zephyr_integrations.testing.TGIServer`, through the hooks ``_admit``,
``_before_generation`` and ``_stream_pacer``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator

from zephyr_integrations.backends.base import Backend, Generation, GenerationRequest
from zephyr_integrations.limits import DEFAULT_PAYLOAD_LIMIT
from zephyr_integrations.serving import tgi_bodies as bodies
from zephyr_integrations.serving.completions_route import serve_completion
from zephyr_integrations.serving.protocol_errors import (
    ProtocolError,
    error_body,
    failure,
    invalid,
    parse_json_body,
)
from zephyr_integrations.serving.tgi_requests import GenerateCall, parse_chat, parse_generate
from zephyr_integrations.serving.tgi_validation import MAX_BEST_OF, Plan, validate
from zephyr_integrations.serving.token_events import Event, TokenEvents, Tokenizer
from zephyr_integrations.serving.token_events import default_tokenizer as _default_tokenizer
from zephyr_integrations.serving.transport import Handler, HTTPServer
from zephyr_integrations.template import format_messages

Pacer = Callable[[Handler, int], bool]
"""Called before event ``index`` (from 1) of a stream: True to send it, False once the
connection is gone; it may raise a :class:`ProtocolError` to end the stream with that error."""


class TGIServer:
    """Serves ``backend`` over TGI's protocol on ``host:port`` (port 0: a free one).

    ``tokenizer`` maps a text to ``(id, text, start, stop)`` tokens, BOS included; it counts
    input tokens and serves ``/tokenize``. By default it is ``backend.tokenize``, else the
    Hugging Face tokenizer of a Transformers backend (``backend.engine.tokenizer``), else
    whitespace words. ``compat_return_full_text``: as TGI does for a model whose pipeline tag is
    ``text-generation``, ``POST /`` prepends the prompt to ``generated_text`` unless the request
    sets ``return_full_text``. ``version`` makes it answer as that TGI version did (see
    :class:`~.tgi_bodies.Quirks`).
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
        version: str = bodies.VERSION,
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
        self.quirks = bodies.Quirks.of(version) if version != bodies.VERSION else bodies.Quirks()
        """How the answers differ from TGI 3.x (``version="1.3.4"``: no ``x-prompt-tokens``,
        no ``/tokenize``, ``data:`` without a space, no ``index``, no ``input_length``)."""
        self.tokenize: Tokenizer = tokenizer or _default_tokenizer(backend)
        self.tokens = TokenEvents(backend, lambda text: self.tokenize(text))
        self._lock = threading.Lock()
        self._in_flight = 0
        self._healthy = True
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not started: use `with TGIServer(...)` or start()")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> TGIServer:
        if self._httpd is None:
            self._httpd = HTTPServer((self.host, self.port), self._handle, self._sse_space)
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

    def constrained_decoding(self, plan: Plan) -> Plan:
        """The one place for grammars (``grammar``, ``response_format``, tools): return a plan
        whose generation follows ``plan.grammar`` (see :mod:`.grammar`), or TGI's 422."""
        from zephyr_integrations.serving.grammar import constrain

        return constrain(self.backend, plan)

    # -- hooks (the test server's faults) -------------------------------------------------

    def _received(self, method: str, path: str, h: Handler, raw: bytes) -> None:
        """Called with every request read (the test server records them)."""

    def _admit(self, h: Handler, path: str) -> bool:
        """Called before a routed request runs: True when it has been answered already."""
        return False

    def _before_generation(self) -> None:
        """Called in a generation slot, before the backend runs."""

    def _stream_pacer(self) -> Pacer:
        """Called as a native or chat stream opens: what to do before each event."""
        return lambda h, index: True

    def _completion_call(self, call: GenerateCall) -> GenerateCall:
        """Called with each parsed ``/v1/completions`` request (the test server can drop its
        structured-output fields, as a server that ignores them)."""
        return call

    # -- routes ---------------------------------------------------------------------------

    def _sse_space(self) -> bool:
        return self.quirks.sse_space

    def _handle(self, h: Handler, method: str) -> None:
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
        self._received(method, path, h, raw)
        routes: dict[tuple[str, str], Callable[[Handler, bytes], None]] = {
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
            ("POST", "/v1/completions"): lambda h, raw: serve_completion(self, h, raw),
        }
        route = routes.get((method, path))
        try:
            if route is None:
                raise ProtocolError(405 if any(path == p for _, p in routes) else 404, "")
            bearer = f"Bearer {self.api_key}"
            if (
                method == "POST"
                and self.api_key is not None
                and h.headers["authorization"] != bearer
            ):
                raise ProtocolError(401, "")
            if self._admit(h, path):
                return
            route(h, raw)
        except ProtocolError as exc:
            h.reply(exc.status, exc.body, exc.headers)
        except OSError:  # the client went away
            h.close_connection = True

    def _health(self, h: Handler, raw: bytes) -> None:
        if not self._healthy:
            raise ProtocolError(503, error_body("unhealthy", "healthcheck"))
        h.reply(200, b"")

    def _info(self, h: Handler, raw: bytes) -> None:
        concurrency = self.max_concurrent_requests
        body = bodies.info(self.model_id, max_concurrent_requests=concurrency, **self._limits)
        body["version"] = self.quirks.version
        if not self.quirks.info_max_input_tokens:
            body["max_input_length"] = body.pop("max_input_tokens")
        h.reply(200, body)

    def _models(self, h: Handler, raw: bytes) -> None:
        model = {"id": self.model_id, "object": "model", "created": 0, "owned_by": self.model_id}
        h.reply(200, {"object": "list", "data": [model]})

    def _tokenize_route(self, h: Handler, raw: bytes) -> None:
        if not self.quirks.tokenize_route:
            raise ProtocolError(404, "")
        call = parse_generate(parse_json_body(raw, h.headers["content-type"]), compat=False)
        keys = ("id", "text", "start", "stop")
        h.reply(200, [dict(zip(keys, token, strict=True)) for token in self.tokenize(call.inputs)])

    def _native(
        self, h: Handler, raw: bytes, *, compat: bool = False, stream: bool | None = None
    ) -> None:
        call = parse_generate(parse_json_body(raw, h.headers["content-type"]), compat=compat)
        p = call.parameters
        full = p.return_full_text
        if full is None:
            full = compat and self.compat_return_full_text
        prefix = call.inputs if full else ""
        if call.stream if stream is None else stream:
            self._stream(h, call, prefix=prefix)
            return
        if (p.best_of or 1) > MAX_BEST_OF:
            raise invalid(f"`best_of` must be > 0 and <= {MAX_BEST_OF}. Given: {p.best_of}")
        plan, generation = self.run(call)
        text = generation.text + (generation.stop_sequence or "")
        details = None
        if p.details or p.decoder_input_details:
            tokens = self.tokens.tokens(text)
            if generation.finish_reason == "eos_token":
                tokens.append(self.tokens.eos_token())
            prefill = bodies.prefill(self.tokenize(plan.inputs)) if p.decoder_input_details else []
            reason, count = generation.finish_reason, generation.completion_tokens
            details = bodies.details(reason, count, plan.seed, prefill, tokens)
        body = {"generated_text": prefix + text} | ({} if details is None else {"details": details})
        headers = response_headers(plan, generation)
        if not self.quirks.prompt_tokens_header:
            del headers["x-prompt-tokens"]
        h.reply(200, [body] if compat else body, headers)

    def _chat(self, h: Handler, raw: bytes) -> None:
        call = parse_chat(parse_json_body(raw, h.headers["content-type"]))
        try:
            call = dataclasses.replace(call, inputs=format_messages(call.inputs))
        except Exception as exc:  # whatever the messages are, they do not render
            raise failure("template_error", f"Template error: {exc}") from exc
        if call.stream:
            self._stream(h, call, chat=True)
            return
        plan, generation = self.run(call)
        text = generation.text + (generation.stop_sequence or "")
        reason = bodies.chat_finish_reason(generation.finish_reason)
        body = bodies.chat_completion(self.model_id, int(time.time()), text, reason,
                                      plan.input_length, generation.completion_tokens)  # fmt: skip
        h.reply(200, body, response_headers(plan, generation))

    # -- generation -----------------------------------------------------------------------

    def run(self, call: GenerateCall) -> tuple[Plan, Generation]:
        """Validate ``call`` and generate its answer in one of the server's slots."""
        with self.slot():
            plan = self.plan(call)
            self._before_generation()
            try:
                generation = self.backend.generate([GenerationRequest(plan.inputs, plan.params)])[0]
            except Exception as exc:
                raise failure("generation", f"Request failed during generation: {exc}") from exc
        return plan, generation

    @property
    def _limits(self) -> dict[str, int]:
        return {
            "max_input_tokens": self.max_input_tokens,
            "max_total_tokens": self.max_total_tokens,
        }

    def plan(self, call: GenerateCall) -> Plan:
        """``call`` validated as TGI validates it, its grammar made the backend's."""
        plan = validate(call.parameters, call.inputs, self.tokenize, **self._limits)
        return plan if plan.grammar is None else self.constrained_decoding(plan)

    def _stream(
        self, h: Handler, call: GenerateCall, *, chat: bool = False, prefix: str = ""
    ) -> None:
        pace = self._stream_pacer()
        h.open_stream()
        try:
            if not chat and (call.parameters.best_of or 1) != 1:
                raise invalid("`best_of` != 1 is not supported when streaming tokens")
            if not chat and call.parameters.decoder_input_details:
                raise invalid(
                    "`decoder_input_details` == true is not supported when streaming tokens"
                )
            with self.slot():
                plan = self.plan(call)
                self._before_generation()
                created = int(time.time())
                with contextlib.closing(self.tokens.events(plan)) as events:
                    for index, event in enumerate(events, start=1):
                        if not pace(h, index):
                            return
                        if chat:
                            self._send_chat_event(h, call, plan, event, created)
                        else:
                            self._send_native_event(h, call, plan, event, index, prefix)
        except ProtocolError as exc:
            body = exc.body if isinstance(exc.body, dict) else error_body(exc.body, "validation")
            h.event(bodies.chat_stream_error(body["error"], exc.status) if chat else body)
        if chat:
            h.event("[DONE]")
        h.close_stream()

    def _send_native_event(self, h: Handler, call: GenerateCall, plan: Plan, event: Event,
                           index: int, prefix: str) -> None:  # fmt: skip
        g = event.generation
        details = None
        if g is not None and call.parameters.details:
            details = bodies.stream_details(
                g.finish_reason, g.completion_tokens, plan.seed, plan.input_length
            )
            if not self.quirks.stream_input_length:
                del details["input_length"]
        text = None if g is None else prefix + event.text
        payload = bodies.stream_event(index, event.token, text, details)
        if not self.quirks.event_index:
            del payload["index"]
        h.event(payload)

    def _send_chat_event(self, h: Handler, call: GenerateCall, plan: Plan, event: Event,
                         created: int) -> None:  # fmt: skip
        g = event.generation
        content = "" if event.token["special"] else event.token["text"]
        reason = None if g is None else bodies.chat_finish_reason(g.finish_reason)
        h.event(bodies.chat_chunk(self.model_id, created, content, reason))
        if g is not None and call.include_usage:
            usage = bodies.chat_usage_chunk(self.model_id, created, plan.input_length,
                                            g.completion_tokens)  # fmt: skip
            h.event(usage)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """One of ``max_concurrent_requests`` slots, or TGI's 429 ``overloaded``."""
        with self._lock:
            if self._in_flight >= self.max_concurrent_requests:
                raise failure("overloaded", "Model is overloaded")
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1


def response_headers(plan: Plan, generation: Generation) -> dict[str, str]:
    """The headers TGI adds to a generation's answer."""
    return {
        "x-compute-type": "cpu",
        "x-compute-characters": str(len(plan.inputs)),
        "x-prompt-tokens": str(plan.input_length),
        "x-generated-tokens": str(generation.completion_tokens),
    }
