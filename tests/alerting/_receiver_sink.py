"""A loopback HTTP sink that records every request a receiver sends (method, path, headers, body bytes)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_TELEGRAM_OK = b'{"ok":true,"result":{"message_id":7,"chat":{"id":-1001},"date":0,"text":"x"}}'


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class RecordingSink:
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[Request]:
        with self.lock:
            return list(self.requests)


@contextmanager
def recording_sink() -> Iterator[RecordingSink]:
    """Answers 200 (Telegram's ``sendMessage`` gets a Bot API ``ok`` answer) and records each request."""
    sink = RecordingSink()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _record(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with sink.lock:
                sink.requests.append(Request(self.command, self.path, headers, body))
            answer = _TELEGRAM_OK if self.path.endswith("/sendMessage") else b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_POST(self) -> None:
            self._record()

        def do_PUT(self) -> None:
            self._record()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
