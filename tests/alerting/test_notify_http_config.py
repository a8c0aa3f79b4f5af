"""``http_config`` against real loopback servers: mutual TLS with ``server_name``, credentials files read at
each send, OAuth2 client credentials, a forward proxy, redirects; and no secret in any failure reason."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from alerting.config import notifier_config
from alerting.dispatch.config import GlobalConfig
from alerting.model import Alert, Notification
from alerting.notify import build_notifier
from alerting.notify.webhook import WebhookNotifier

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Seen:
    request_line: str
    headers: dict[str, str]
    body: bytes
    client_cn: str | None


@dataclass
class Server:
    port: int = 0
    seen: list[Seen] = field(default_factory=list)


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    """``/token``: an OAuth2 token endpoint; ``/redirect``: 307 to ``/final``; anything else: 200."""
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            cn = None
            if tls is not None:
                cert: Any = self.connection.getpeercert()  # type: ignore[attr-defined]
                cn = dict(x[0] for x in cert["subject"])["commonName"] if cert else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.seen.append(Seen(self.requestline, headers, body, cn))
            status, extra, answer = 200, {}, b"{}"
            if self.path.endswith("/token"):
                answer = b'{"access_token":"oauth-token-77","token_type":"Bearer","expires_in":3600}'
            elif self.path == "/redirect":
                status, extra = 307, {"Location": "/final"}
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for ``hooks.internal`` and a client certificate, all signed by the CA."""
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *ec, "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem", "-days", "2", "-subj", "/CN=ca"
    )
    for name, cn in (("server", "hooks.internal"), ("client", "alertmanager")):
        _openssl("req", *ec, "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr", "-subj", f"/CN={cn}")
        (d / f"{name}.ext").write_text(f"subjectAltName=DNS:{cn}\n")
        _openssl(
            *("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key"),
            *("-CAcreateserial", "-out", f"{d}/{name}.pem", "-days", "2", "-extfile", f"{d}/{name}.ext"),
        )
    return d


def _notification() -> Notification:
    alert = Alert({"alertname": "Down", "app": "catalog"}, {"summary": "down"}, NOW, None, "http://prom/g")
    return Notification("hooks", "firing", [alert], {"alertname": "Down"}, {}, {}, "http://pm", "{}:{}")


def _webhook(options: dict[str, Any]) -> WebhookNotifier:
    notifier = build_notifier(notifier_config({"type": "webhook", **options}, GlobalConfig()))
    assert isinstance(notifier, WebhookNotifier)
    return notifier


async def _send(options: dict[str, Any], times: int = 1) -> list[str]:
    notifier = _webhook(options)
    reasons = []
    try:
        for _ in range(times):
            result = await notifier.notify(_notification())
            reasons.append("ok" if result.ok else result.reason)
    finally:
        await notifier.aclose()
    return reasons


async def test_mutual_tls_with_server_name(pki: Path) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "server.pem", pki / "server.key")
    ctx.load_verify_locations(pki / "ca.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED
    with serve(ctx) as srv:
        url = f"https://127.0.0.1:{srv.port}/hook"
        tls = {"ca_file": str(pki / "ca.pem"), "cert_file": str(pki / "client.pem")}
        tls |= {"key_file": str(pki / "client.key"), "server_name": "hooks.internal", "min_version": "TLS12"}
        assert await _send({"url": url, "http_config": {"tls_config": tls}}) == ["ok"]
        assert srv.seen[-1].client_cn == "alertmanager"
        # without server_name the certificate (for hooks.internal) does not match 127.0.0.1: refused, retried
        no_name = {k: v for k, v in tls.items() if k != "server_name"}
        (reason,) = await _send({"url": url, "http_config": {"tls_config": no_name}})
        assert reason.startswith("connect:") and "/hook" not in reason
        # without a client certificate the server refuses the handshake
        (reason,) = await _send({"url": url, "http_config": {"tls_config": {"ca_file": tls["ca_file"]}}})
        assert reason != "ok"
        assert len(srv.seen) == 1


async def test_credentials_files_are_read_at_each_send(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first-token-1\n")
    with serve() as srv:
        notifier = _webhook(
            {
                "url": f"http://127.0.0.1:{srv.port}/hook",
                "http_config": {"authorization": {"credentials_file": str(token)}},
            }
        )
        try:
            assert (await notifier.notify(_notification())).ok
            token.write_text("rotated-token-2")
            assert (await notifier.notify(_notification())).ok
            token.unlink()
            missing = await notifier.notify(_notification())
        finally:
            await notifier.aclose()
    assert [s.headers["authorization"] for s in srv.seen] == [
        "Bearer first-token-1",
        "Bearer rotated-token-2",
    ]
    assert not missing.ok and missing.retry and missing.reason.startswith("credentials: cannot read")


async def test_oauth2_client_credentials_token_is_fetched_once_and_used(tmp_path: Path) -> None:
    secret_file = tmp_path / "client-secret"
    secret_file.write_text("client-secret-9")
    with serve() as srv:
        oauth2 = {
            "client_id": "paramedic",
            "client_secret_file": str(secret_file),
            "token_url": f"http://127.0.0.1:{srv.port}/token",
            "scopes": ["alerts", "write"],
        }
        http_config = {"oauth2": oauth2}
        assert await _send({"url": f"http://127.0.0.1:{srv.port}/hook", "http_config": http_config}, 2) == [
            "ok",
            "ok",
        ]
    token_req, *hooks = srv.seen
    assert token_req.request_line.startswith("POST /token ")
    assert token_req.body == b"grant_type=client_credentials&scope=alerts+write"
    assert token_req.headers["authorization"] == "Basic cGFyYW1lZGljOmNsaWVudC1zZWNyZXQtOQ=="
    assert [h.headers["authorization"] for h in hooks] == ["Bearer oauth-token-77"] * 2


async def test_oauth2_token_endpoint_through_its_own_proxy() -> None:
    """``oauth2.proxy_url`` reaches the token endpoint (idp.invalid resolves nowhere) through that proxy."""
    with serve() as proxy, serve() as srv:
        oauth2 = {
            "client_id": "paramedic",
            "client_secret": "s",
            "token_url": "http://idp.invalid:9/token",
            "proxy_url": f"http://127.0.0.1:{proxy.port}",
        }
        options = {"url": f"http://127.0.0.1:{srv.port}/hook", "http_config": {"oauth2": oauth2}}
        assert await _send(options) == ["ok"]
    assert [s.request_line for s in proxy.seen] == ["POST http://idp.invalid:9/token HTTP/1.1"]
    assert srv.seen[0].headers["authorization"] == "Bearer oauth-token-77"


async def test_proxy_url_and_redirects() -> None:
    with serve() as proxy:
        # hooks.invalid does not resolve: only the proxy can have answered (absolute-form request line)
        options = {
            "url": "http://hooks.invalid:9/alert",
            "http_config": {"proxy_url": f"http://127.0.0.1:{proxy.port}"},
        }
        assert await _send(options) == ["ok"]
        assert proxy.seen[0].request_line == "POST http://hooks.invalid:9/alert HTTP/1.1"
    with serve() as srv:
        url = f"http://127.0.0.1:{srv.port}/redirect"
        assert await _send({"url": url}) == ["ok"]  # follow_redirects defaults to true, as Alertmanager
        assert [s.request_line.split()[1] for s in srv.seen] == ["/redirect", "/final"]
        assert json.loads(srv.seen[1].body)["receiver"] == "hooks"  # 307 keeps method and body
        (reason,) = await _send({"url": url, "http_config": {"follow_redirects": False}})
        assert reason.startswith("http_3xx: 307")


async def test_no_secret_in_failure_reasons(tmp_path: Path) -> None:
    """Refused connections and error answers name the host only; no password, token or secret path."""
    pw = tmp_path / "pw"
    pw.write_text("file-password-5")
    for http_config in (
        {"basic_auth": {"username": "am", "password_file": str(pw)}},
        {"authorization": {"credentials": "inline-token-6"}},
    ):
        (reason,) = await _send(
            {"url": "http://127.0.0.1:9/secret-path-7?key=k-8", "http_config": http_config}
        )
        assert reason.startswith("connect:")
        for secret in ("file-password-5", "inline-token-6", "secret-path-7", "k-8"):
            assert secret not in reason


async def test_webhook_url_file_is_read_at_each_send(tmp_path: Path) -> None:
    url_file = tmp_path / "hook-url"
    with serve() as srv:
        url_file.write_text(f"http://127.0.0.1:{srv.port}/from-file/secret-part\n")
        notifier = _webhook({"url_file": str(url_file)})
        try:
            assert (await notifier.notify(_notification())).ok
            url_file.write_text("http://127.0.0.1:9/moved/secret-part-2")
            moved = await notifier.notify(_notification())
        finally:
            await notifier.aclose()
    assert srv.seen[0].request_line == "POST /from-file/secret-part HTTP/1.1"
    assert not moved.ok and moved.retry and "secret-part-2" not in moved.reason
