"""A hostile OAuth2 token endpoint of a notification receiver (a real loopback server): an endless or huge
token answer is read only up to a small cap, whether the receiver's own client fetches the token or a
separate one (``oauth2.tls_config``/``proxy_url``); the notification then fails with a reason naming no
secret, and the dispatcher's memory does not follow the endpoint's whims."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from alerting.config import notifier_config
from alerting.dispatch.config import GlobalConfig
from alerting.model import Alert, Notification
from alerting.notify import build_notifier
from alerting.notify.webhook import WebhookNotifier
from tests.support.servers import wait_until

HUGE = 64 * 1024 * 1024
CHUNK = b"x" * 65536


class _Hostile(BaseHTTPRequestHandler):
    written: list[int]

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path.startswith("/hook"):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(HUGE))
        self.end_headers()
        sent = 0
        try:
            while sent < HUGE:
                self.wfile.write(CHUNK)
                sent += len(CHUNK)
        except OSError:
            pass
        self.written.append(sent)


@pytest.fixture(scope="module")
def hostile() -> Iterator[tuple[int, list[int]]]:
    written: list[int] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Hostile,), {"written": written}))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1]), written
    server.shutdown()
    server.server_close()


def _notification() -> Notification:
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    alert = Alert({"alertname": "Down", "app": "catalog"}, {}, at, None, "http://prom/g")
    return Notification("hooks", "firing", [alert], {"alertname": "Down"}, {}, {}, "http://pm", "{}:{}")


@pytest.mark.parametrize("own_client", [False, True])
async def test_a_huge_token_answer_is_cut_at_the_cap(
    own_client: bool, hostile: tuple[int, list[int]]
) -> None:
    port, written = hostile
    oauth2: dict[str, Any] = {
        "client_id": "paramedic",
        "client_secret": "client-secret-31",
        "token_url": f"http://127.0.0.1:{port}/token",
    }
    if own_client:  # a TLS block of its own: the token comes through a separate client
        oauth2["tls_config"] = {"insecure_skip_verify": True}
    options = {"type": "webhook", "url": f"http://127.0.0.1:{port}/hook", "http_config": {"oauth2": oauth2}}
    notifier = build_notifier(notifier_config(options, GlobalConfig()))
    assert isinstance(notifier, WebhookNotifier)
    before = len(written)
    try:
        result = await notifier.notify(_notification())
    finally:
        await notifier.aclose()
    assert not result.ok and "client-secret-31" not in result.reason
    assert "token" in result.reason
    # The endpoint could not write its whole answer: the receiver stopped reading after the cap (socket
    # buffers hold a few MiB at most).
    wait_until(lambda: len(written) > before, 10.0, "the token endpoint to finish its answer")
    assert written[before] < HUGE // 2
