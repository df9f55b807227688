"""The HTTP layer of the TGI-protocol server: a threading HTTP/1.1 server on the standard library
that keeps connections alive, streams Server-Sent Events as one chunk each, and tracks its open
connections so that stopping it closes them.

Routing and the protocol live elsewhere: every request goes to the ``dispatch(handler, method)``
callable given to :class:`HTTPServer`, which answers through :meth:`Handler.reply` or the stream
methods.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from zephyr_integrations.serving.tgi_bodies import compact, sse


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK stall every kept-alive response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.server.dispatch(self, "GET")

    def do_POST(self) -> None:
        self.server.dispatch(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the server records requests itself."""

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """JSON (a dict or list), text/plain (a non-empty str) or nothing (b"" or "")."""
        data, kind = b"", None
        if isinstance(body, dict | list):
            data, kind = compact(body), "application/json"
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
        data = sse(payload, space=self.server.sse_space())
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


class HTTPServer(ThreadingHTTPServer):
    """Serves ``dispatch`` on ``address``; ``sse_space`` says whether events are written
    ``data: <json>`` (TGI >= 2.1) or ``data:<json>``."""

    daemon_threads = True
    # socketserver's default backlog of 5 drops bursts of new connections (the client then
    # waits a second for a SYN retransmit): size it like a real server's.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        dispatch: Callable[[Handler, str], None],
        sse_space: Callable[[], bool],
    ) -> None:
        self.dispatch = dispatch
        self.sse_space = sse_space
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.accepted = 0
        super().__init__(address, Handler)

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
