"""Real loopback servers for the notifier tests: a scripted HTTP receiver and an aiosmtpd SMTP sink."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    request_line: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class HttpReceiver:
    """Answers each request with the next scripted status (``"hang"``: wait until released, then 200)."""

    port: int = 0
    script: list[int | str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)


@contextmanager
def http_receiver(script: list[int | str] | None = None) -> Iterator[HttpReceiver]:
    state = HttpReceiver(script=list(script or []))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.arrived:
                state.received.append(Received(self.requestline, list(self.headers.items()), body))
                action = state.script.pop(0) if state.script else 200
                state.arrived.notify_all()
            if action == "hang":
                state.release.wait(10)
                action = 200
            payload = b"scripted"
            self.send_response(int(action))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
