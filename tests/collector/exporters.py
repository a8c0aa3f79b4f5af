"""Real HTTP scrape targets for the collector tests, served from threads on 127.0.0.1 (free port).

One server, behaviour per path:
  /metrics   the current ``body`` (settable), gzip when the client accepts it; records request headers
  /status500 HTTP 500
  /slow      slowloris: headers, then one byte every 50 ms, forever
  /huge      an endless chunked body
  /never     accepts the request and never answers
  /garbage   invalid UTF-8 and junk
  /reset     closes the connection without answering (RST)
  /redirect  302 to /metrics
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Exporter"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: Exporter


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def setup(self) -> None:
        super().setup()
        with self.server.owner.lock:
            self.server.owner.connections.add(self.connection)

    def do_GET(self) -> None:
        ex = self.server.owner
        if ex.stopping.is_set():
            self.close_connection = True
            return
        path = self.path.split("?")[0]
        with ex.lock:
            ex.requests.append((path, dict(self.headers.items())))
        if path in ex.bodies:
            body = ex.bodies[path]
            ctype = ex.content_types.get(path, "text/plain; version=0.0.4; charset=utf-8")
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                body = gzip.compress(body)
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/metrics")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/status500":
            self._plain(500, b"boom")
        elif path == "/garbage":
            self._plain(200, b'\xff\xfe\x00metric{a="\xc3\x28"} 1\n\x80\x81 garbage {{{\n')
        elif path == "/slow":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            while not ex.stopping.wait(0.05):
                try:
                    self.wfile.write(b"#")
                    self.wfile.flush()
                except OSError:
                    return
        elif path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            line = b'huge_metric_total{i="0123456789"} 1\n' * 1000
            chunk = f"{len(line):x}\r\n".encode() + line + b"\r\n"
            while not ex.stopping.is_set():
                try:
                    self.wfile.write(chunk)
                except OSError:
                    return
        elif path == "/never":
            ex.stopping.wait()
        elif path == "/reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        else:
            self._plain(404, b"not found")

    def _plain(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Exporter:
    """A threaded HTTP server on 127.0.0.1:<free port>; ``set_body`` changes what /metrics serves."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.connections: set[socket.socket] = set()
        self.bodies: dict[str, bytes] = {"/metrics": b""}
        self.content_types: dict[str, str] = {}
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = int(self._server.server_address[1])
        self.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def set_body(self, text: str | bytes, path: str = "/metrics", content_type: str | None = None) -> None:
        with self.lock:
            self.bodies[path] = text.encode() if isinstance(text, str) else text
            if content_type is not None:
                self.content_types[path] = content_type

    def count(self, path: str = "/metrics") -> int:
        with self.lock:
            return sum(1 for p, _ in self.requests if p == path)

    def __enter__(self) -> Exporter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self.lock:
            for conn in self.connections:  # keep-alive connections would otherwise keep serving
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
