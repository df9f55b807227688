"""The TGI-protocol server of :mod:`zephyr_integrations.serving`, with fault injection and
request recording for tests and CPU development::

    with TGIServer(ScriptedBackend()) as server:
        server.fail_next(2, status=429)
        InferenceClient(base_url=server.url).text_generation("Hello", max_new_tokens=5)

Faults: :meth:`TGIServer.fail_next`, :meth:`~TGIServer.scale_from_zero`, ``latency``,
``token_latency``, :meth:`~TGIServer.cut_stream_after`, :meth:`~TGIServer.stream_error_after`.
Every request received is in :attr:`TGIServer.requests`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any

from zephyr_integrations.serving import server as serving
from zephyr_integrations.serving.protocol_errors import ProtocolError
from zephyr_integrations.serving.protocol_errors import failure as protocol_failure
from zephyr_integrations.serving.tgi_requests import GenerateCall
from zephyr_integrations.serving.transport import Handler

Json = dict[str, Any]

FAULT_BODIES: dict[int, Json] = {
    424: {
        "error": "Request failed during generation: injected failure",
        "error_type": "generation",
    },
    429: {"error": "Model is overloaded", "error_type": "overloaded"},
    500: {"error": "Incomplete generation", "error_type": "incomplete_generation"},
    503: {"error": "Service Unavailable: the model is not ready", "error_type": "unavailable"},
}
"""The body for each status of an injected failure. TGI itself never answers 503 to a
generation request: that one stands for what is in front of it (a load balancer, an endpoint
whose model is loading)."""


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received: ``headers`` has lower-case names, ``body`` is the parsed
    JSON body (``None`` when empty or not JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class TGIServer(serving.TGIServer):
    """:class:`zephyr_integrations.serving.TGIServer` with faults to inject (thread-safe) and
    every request recorded in :attr:`requests`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.latency = 0.0
        """Seconds added before answering each generation request (before the first token of
        a stream)."""
        self.token_latency = 0.0
        """Seconds between two events of a stream."""
        self.requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self._ready_at = 0.0
        self._cut_after: int | None = None
        self._error_after: tuple[int, str, str] | None = None
        self.ignores_structured_output = False
        """Drop ``/v1/completions``' structured-output fields, as a server that does not know
        them (vLLM's legacy ``guided_json``) answers with unconstrained text."""

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
        failure = dict(FAULT_BODIES.get(status, {"error": "Injected failure"}))
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

    # -- the serving server's hooks -------------------------------------------------------

    def _received(self, method: str, path: str, h: Handler, raw: bytes) -> None:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in h.headers.items()}
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body))

    def _admit(self, h: Handler, path: str) -> bool:
        """Answer with the next injected failure meant for ``path``; False when there is none."""
        if time.monotonic() < self._ready_at:
            raise ProtocolError(503, dict(FAULT_BODIES[503]))
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
        raise ProtocolError(failure.status, dict(failure.body), failure.headers)

    def _before_generation(self) -> None:
        time.sleep(self.latency)

    def _completion_call(self, call: GenerateCall) -> GenerateCall:
        if not self.ignores_structured_output:
            return call
        free = dataclasses.replace(call.parameters, grammar=None)
        return dataclasses.replace(call, parameters=free)

    def _stream_pacer(self) -> serving.Pacer:
        with self._lock:  # this stream takes the stream faults
            cut, error = self._cut_after, self._error_after
            self._cut_after = self._error_after = None

        def pace(h: Handler, index: int) -> bool:
            if cut is not None and index > cut:
                h.cut()
                return False
            if error is not None and index > error[0]:
                raise protocol_failure(error[2], error[1])
            time.sleep(self.token_latency if index > 1 else 0.0)
            return True

        return pace


@dataclass(frozen=True)
class _Failure:
    route: str | None
    status: int
    body: Json
    headers: dict[str, str]


_GENERATION_ROUTES = frozenset(
    {"/", "/generate", "/generate_stream", "/v1/chat/completions", "/v1/completions"}
)
_IN_BAND = frozenset({422, 424, 429, 500})
"""Statuses TGI's router raises itself: on ``/generate_stream`` they arrive as events."""
