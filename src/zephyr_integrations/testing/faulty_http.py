"""A deliberately misbehaving TGI server, for testing deadlines and malformed answers.

`FaultyServer` answers TGI's routes with fixed, valid bodies (``/info``, ``/generate`` without
``x-prompt-tokens``, ``/generate_stream``, ``/tokenize``), except on ``route``, where it does
what ``fault`` says, at the socket level:

- ``drip``: a valid answer, one byte every ``interval`` seconds;
- ``slow_sse``: stream token events one every ``interval`` seconds, never ending;
- ``silent``: read the request and never answer;
- ``garbage``: bytes that are not HTTP, then close;
- ``html``: HTTP 200 with an HTML page;
- ``error_200``: HTTP 200 with ``{"error": "... CUDA out of memory"}``;
- ``missing_fields``: HTTP 200 with a JSON object lacking TGI's fields;
- ``cut``: announce a body, send part of it, close;
- ``close``: close the connection without a word;
- ``not_found``: HTTP 404 with an empty body (a server without that route).
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
import time

FAULTS = (
    "drip",
    "slow_sse",
    "silent",
    "garbage",
    "html",
    "error_200",
    "missing_fields",
    "cut",
    "close",
    "not_found",
)

_INFO = {"model_id": "faulty", "max_input_tokens": 4095, "max_total_tokens": 4096}
_GENERATE = {
    "generated_text": "fine",
    "details": {"finish_reason": "eos_token", "generated_tokens": 2, "seed": None},
}


def _token_event(index: int, final: bool) -> bytes:
    token = {"id": index, "text": "</s>" if final else " tick", "logprob": 0.0, "special": final}
    details = {"finish_reason": "eos_token", "generated_tokens": index, "seed": None}
    event = {
        "index": index,
        "token": token,
        "generated_text": " tick" * (index - 1) if final else None,
        "details": details if final else None,
    }
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def _response(status: str, kind: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"Connection: close\r\n\r\n" + body


class FaultyServer:
    """Serves on 127.0.0.1 (a free port); misbehaves on ``route`` as ``fault`` says."""

    def __init__(self, fault: str, route: str = "/generate", interval: float = 0.5) -> None:
        if fault not in FAULTS:
            raise ValueError(f"fault={fault!r} is invalid: expected one of {FAULTS}")
        self.fault, self.route, self.interval = fault, route, interval
        self.hits: list[str] = []
        self._stopping = threading.Event()
        self._server: socketserver.ThreadingTCPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "use `with FaultyServer(...)`"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultyServer:
        app = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with contextlib.suppress(OSError):
                    app._serve(self.request)

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        path = head.split(b" ")[1]
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n")
             if line.lower().startswith(b"content-length:")),
            0,
        )  # fmt: skip
        while len(rest) < length:
            rest += conn.recv(65536)
        route = path.decode()
        self.hits.append(route)
        if route == self.route:
            self._misbehave(conn, route)
        else:
            conn.sendall(self._valid(route))

    def _valid(self, route: str) -> bytes:
        if route == "/info":
            return _response("200 OK", "application/json", json.dumps(_INFO).encode())
        if route == "/v1/models":
            models = {"object": "list", "data": [{"id": "faulty", "object": "model"}]}
            return _response("200 OK", "application/json", json.dumps(models).encode())
        if route == "/tokenize":
            tokens = [{"id": 1, "text": "<s>", "start": 0, "stop": 0}] * 3
            return _response("200 OK", "application/json", json.dumps(tokens).encode())
        if route == "/generate_stream":
            return _response("200 OK", "text/event-stream", _token_event(1, True))
        return _response("200 OK", "application/json", json.dumps(_GENERATE).encode())

    def _misbehave(self, conn: socket.socket, route: str) -> None:
        fault = self.fault
        if fault == "drip":
            for byte in self._valid(route):
                conn.sendall(bytes([byte]))
                if self._stopping.wait(self.interval):
                    return
        elif fault == "slow_sse":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            conn.sendall(head + b"Connection: close\r\n\r\n")
            index = 1
            while not self._stopping.wait(self.interval):
                conn.sendall(_token_event(index, False))
                index += 1
        elif fault == "silent":
            self._stopping.wait(60)
        elif fault == "garbage":
            conn.sendall(b"\x16\x03\x01 this is not HTTP \xff\xfe\r\n\r\n")
        elif fault == "html":
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            conn.sendall(_response("200 OK", "text/html", page))
        elif fault == "error_200":
            body = {"error": "Request failed during generation: CUDA out of memory"}
            conn.sendall(_response("200 OK", "application/json", json.dumps(body).encode()))
        elif fault == "missing_fields":
            conn.sendall(_response("200 OK", "application/json", b'{"text": "where is it"}'))
        elif fault == "cut":
            whole = self._valid(route)
            conn.sendall(whole[: len(whole) - 10])
            time.sleep(0.05)
        elif fault == "not_found":
            conn.sendall(_response("404 Not Found", "text/plain", b""))
        # "close": nothing at all
        conn.shutdown(socket.SHUT_RDWR)


__all__ = ["FAULTS", "FaultyServer"]
