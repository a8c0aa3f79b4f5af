"""Issue 11, items 6 and 7, against a real ``paramedic serve``: bodies over the limit (declared and chunked)
refused with 413 before they are read, a password-guessing burst throttled with 429 + Retry-After, roles
(admin routes, the alert-sender token), HTTP Basic from a browser, foreign Host headers, and private data
files. After each hostile exchange the server must be alive and its ordinary query right."""

from __future__ import annotations

import base64
import re
import select
import socket
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.hostile import PASSWORDS, Target
from tests.support.payloads import SILENCE

MIB = 1024 * 1024
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def _connect(target: Target) -> socket.socket:
    parts = urlsplit(target.base_url)
    return socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=5)


def _status(sock: socket.socket) -> int:
    """The status code of the response on ``sock`` (reads its first line only)."""
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"connection closed before a status line: {head!r}")
        head += chunk
    return int(head.split(b" ", 2)[1])


def _head(target: Target, method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{target.ports['http']}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def refusals(target: Target, reason: str) -> float:
    text = httpx.get(f"{target.base_url}/metrics", timeout=5).text
    line = next(
        x for x in text.splitlines() if x.startswith(f'paramedic_http_refusals_total{{reason="{reason}"}}')
    )
    return float(line.split()[-1])


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/login", None),
        ("/api/v2/silences", "operator"),
        ("/api/v2/alerts", "alert-sender"),
        ("/api/v1/query", None),
    ],
)
def test_a_huge_declared_body_is_refused_before_it_is_sent(
    target: Target, path: str, role: str | None
) -> None:
    """The client declares 10 GB and sends nothing: the 413 comes back at once."""
    headers = {"Content-Length": str(10 * 1024 * MIB), "Content-Type": "application/x-www-form-urlencoded"}
    headers |= target.headers(role)
    with _connect(target) as sock:
        sock.sendall(_head(target, "POST", path, headers))
        assert _status(sock) == 413
    target.assert_alive()


@pytest.mark.parametrize(
    ("path", "role"), [("/login", None), ("/api/v2/silences", "operator"), ("/api/v2/alerts", "alert-sender")]
)
def test_a_chunked_body_is_cut_off_once_over_the_limit(target: Target, path: str, role: str | None) -> None:
    """A body without a length (limits: 16 KiB, 1 MiB, 8 MiB): the server answers 413 once it has read about
    the limit, while we could go on sending 64 MiB; kernel buffers aside, far less than that goes out."""
    headers = {"Transfer-Encoding": "chunked", "Content-Type": "application/x-www-form-urlencoded"}
    headers |= target.headers(role)
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"a" * 64 * 1024)
    sent = 0
    with _connect(target) as sock:
        sock.sendall(_head(target, "POST", path, headers))
        deadline = time.monotonic() + 20
        while not select.select([sock], [], [], 0)[0] and sent < 64 * MIB and time.monotonic() < deadline:
            if select.select([], [sock], [], 0.05)[1]:
                try:
                    sent += sock.send(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
        assert _status(sock) == 413
    assert sent < 32 * MIB  # the server stopped us long before the end
    target.assert_alive()


def _hung_up(sock: socket.socket, within_s: float) -> bool:
    """Whether the server closes ``sock`` (EOF or reset) within ``within_s``, reading whatever comes first."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not select.select([sock], [], [], max(0.0, deadline - time.monotonic()))[0]:
            return False
        try:
            if not sock.recv(65536):
                return True
        except ConnectionResetError:
            return True
    return False


@pytest.mark.parametrize(
    ("path", "role", "status"),
    [("/login", None, 413), ("/api/v2/silences", "operator", 413), ("/api/v1/query", None, 401)],
)
def test_after_refusing_a_streamed_body_the_server_hangs_up_instead_of_reading_on(
    target: Target, path: str, role: str | None, status: int
) -> None:
    """uvicorn keeps a connection whose request body was not read to its end, and parses (to drop them) every
    further byte the client streams, in Python on the event loop: with no end. An answer to a streamed body
    the app did not read to its end (413 over the limit, 401 before reading) says ``Connection: close`` and
    the server closes the connection."""
    headers = {"Transfer-Encoding": "chunked", "Content-Type": "application/x-www-form-urlencoded"}
    headers |= target.headers(role)
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"a" * 64 * 1024)
    with _connect(target) as sock:
        sock.sendall(_head(target, "POST", path, headers))
        deadline = time.monotonic() + 20
        while not select.select([sock], [], [], 0)[0] and time.monotonic() < deadline:
            if select.select([], [sock], [], 0.05)[1]:
                try:
                    sock.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    break  # it answered and hung up (or stopped reading) meanwhile: the answer is read below
        head = b""
        while b"\r\n\r\n" not in head:
            got = sock.recv(4096)
            assert got, f"closed before the response head: {head!r}"
            head += got
        assert head.startswith(b"HTTP/1.1 %d" % status), head
        assert b"\r\nconnection: close\r\n" in head.lower(), head
        assert _hung_up(sock, 10), "the server kept the connection open to read the rest of the body"
    target.assert_alive()


def test_a_too_large_upload_counts_as_a_refusal(target: Target) -> None:
    before = refusals(target, "body_too_large")
    with target.client("operator") as c:
        assert c.post("/api/v2/silences", content=b"{" * (2 * MIB)).status_code == 413
    assert refusals(target, "body_too_large") == before + 1
    target.assert_alive()


def _login_form(client: httpx.Client) -> str:
    page = client.get("/login")
    match = _CSRF_FIELD.search(page.text)
    assert match is not None, page.text
    return match.group(1)


ATTACKER = "203.0.113.66"  # the guesser's address: uvicorn believes X-Forwarded-For from loopback (a proxy)


def _guess(base_url: str, user: str, password: str, client: str = ATTACKER) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=30, headers={"X-Forwarded-For": client}) as c:
        token = _login_form(c)
        return c.post("/login", data={"username": user, "password": password, "csrf_token": token})


def _guess_as_a_client_would(base_url: str, password: str, deadline_s: float = 120.0) -> httpx.Response:
    """One guess at the admin's password, sent again after its ``Retry-After`` while the server answers 503
    (both hash slots busy: how often depends on the machine's load, not on the throttle). Every 503 must carry
    a ``Retry-After`` of at least 1 s; the answer returned is the first that is not a 503."""
    deadline = time.monotonic() + deadline_s
    while True:
        resp = _guess(base_url, "admin", password)
        if resp.status_code != 503:
            return resp
        retry_after = int(resp.headers["Retry-After"])
        assert retry_after >= 1, resp.headers
        assert time.monotonic() + retry_after < deadline, "503 (busy) until the deadline"
        threading.Event().wait(retry_after)  # what the server asked for, then poll again


def test_a_password_guessing_burst_is_throttled(target: Target) -> None:
    """40 guesses at the admin's password, 8 at a time: after 5 failures the rest are refused with 429 and a
    Retry-After (a guess answered 503 while the two hash slots are busy is sent again after its Retry-After,
    as a client would: on a loaded machine many are, and a 503 says nothing of the throttle); the server
    keeps answering during the burst."""
    health: list[int] = []
    with ThreadPoolExecutor(8) as pool:
        futures = [
            pool.submit(_guess_as_a_client_would, target.base_url, f"guess-{i:04d}-xxxx") for i in range(40)
        ]
        while not all(f.done() for f in futures):
            health.append(httpx.get(f"{target.base_url}/-/healthy", timeout=2.0).status_code)
        answers = [f.result() for f in futures]
    assert health and set(health) == {200}
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= 5 + 8  # 5 free failures; a few more were already hashing when locked
    throttled = [r for r in answers if r.status_code == 429]
    assert len(throttled) >= 20
    assert all(int(r.headers["Retry-After"]) >= 1 for r in throttled)
    assert refusals(target, "login_throttled") >= len(throttled)
    target.assert_alive()
    # locked: the guesser's address whatever the name, and the name from anywhere, even with its password
    assert _guess(target.base_url, "viewer", PASSWORDS["viewer"]).status_code == 429
    assert _guess(target.base_url, "admin", PASSWORDS["admin"], client="198.51.100.1").status_code == 429
    assert _guess(target.base_url, "viewer", PASSWORDS["viewer"], client="198.51.100.1").status_code == 303


def test_a_login_form_is_refused_once_over_its_limit_without_a_length(target: Target) -> None:
    with httpx.Client(base_url=target.base_url, timeout=10) as client:
        token = _login_form(client)

        def body() -> object:
            yield f"csrf_token={token}&username=viewer&password=".encode()
            for _ in range(64):
                yield b"p" * 1024

        assert (
            client.post(
                "/login", content=body(), headers={"Content-Type": "application/x-www-form-urlencoded"}
            ).status_code
            == 413
        )
    target.assert_alive()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/policies/auto/mode", {"mode": "live"}),
        ("/api/v1/deployments", {"app": "web", "revision": "v2"}),
    ],
)
def test_operators_are_refused_on_admin_routes(target: Target, path: str, body: dict[str, str]) -> None:
    with target.client("operator") as c:
        resp = c.post(path, json=body)
    assert resp.status_code == 403
    assert resp.json()["required_role"] == "admin" and resp.json()["role"] == "operator"
    target.assert_alive()


def test_the_alert_sender_posts_alerts_and_nothing_else(target: Target) -> None:
    with target.client("alert-sender") as c:
        posted = c.post(
            "/api/v2/alerts", json=[{"labels": {"alertname": "HostileSender", "severity": "info"}}]
        )
        assert posted.status_code == 200, posted.text
        for method, path, body in (
            ("GET", "/api/v2/alerts", None),
            ("GET", "/api/v1/query?query=1", None),
            ("GET", "/api/v1/status/config", None),
            ("POST", "/api/v2/silences", SILENCE),
            ("POST", "/api/v2/paramedic/ack", {"fingerprint": "x"}),
            ("POST", "/api/v1/policies/auto/mode", {"mode": "live"}),
        ):
            resp = c.request(method, path, json=body)
            assert resp.status_code == 403, (method, path, resp.text)
    with target.client("viewer") as c:
        alerts = c.get("/api/v2/alerts", params={"filter": "alertname=HostileSender"}).json()
    assert [a["labels"]["alertname"] for a in alerts] == ["HostileSender"]
    target.assert_alive()


def test_basic_auth_from_a_browser_without_csrf_is_refused(target: Target) -> None:
    basic = "Basic " + base64.b64encode(f"grafana:{target.tokens['operator']}".encode()).decode()
    cross_site = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
    with httpx.Client(base_url=target.base_url, timeout=10) as c:
        refused = c.post("/api/v2/silences", json=SILENCE, headers={"Authorization": basic} | cross_site)
        assert refused.status_code == 403 and "from a browser" in refused.json()["error"]
        with_cookie = c.post(
            "/api/v2/silences", json=SILENCE, headers={"Authorization": basic, "Cookie": "a=b"}
        )
        assert with_cookie.status_code == 403
        tool = c.post("/api/v2/silences", json=SILENCE, headers={"Authorization": basic})  # amtool, Grafana
        assert tool.status_code == 200, tool.text
    target.assert_alive()


def test_a_foreign_host_header_is_400(anonymous_target: Target) -> None:
    """DNS rebinding: a page on evil.example re-pointed at 127.0.0.1 cannot read the anonymous API."""
    before = refusals(anonymous_target, "untrusted_host")
    with httpx.Client(base_url=anonymous_target.base_url, timeout=10) as c:
        assert c.get("/api/v1/query", params={"query": "1"}).status_code == 200  # anonymous reads are on
        for host in ("evil.example", "evil.example:80", "localhost.evil.example"):
            resp = c.get("/api/v1/query", params={"query": "1"}, headers={"Host": host})
            assert resp.status_code == 400, host
            assert "invalid Host header" in resp.text
        assert (
            c.get("/-/healthy", headers={"Host": f"localhost:{anonymous_target.ports['http']}"}).status_code
            == 200
        )
    assert refusals(anonymous_target, "untrusted_host") == before + 3
    anonymous_target.assert_alive()


def test_the_session_cookie_is_httponly_lax_and_secure_behind_a_tls_proxy(target: Target) -> None:
    with httpx.Client(base_url=target.base_url, timeout=30, follow_redirects=False) as c:
        token = _login_form(c)
        form = {"username": "viewer", "password": PASSWORDS["viewer"], "csrf_token": token}
        resp = c.post(
            "/login", data=form, headers={"X-Forwarded-Proto": "https"}
        )  # we are the loopback proxy
    assert resp.status_code == 303, resp.text
    cookie = next(x for x in resp.headers.get_list("set-cookie") if x.startswith("paramedic_session="))
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "secure"} <= flags


def test_data_files_are_private(target: Target) -> None:
    data = target.tmp / "data"
    paths = [data, *data.rglob("*")]
    assert len(paths) > 5
    wrong = {
        str(p.relative_to(target.tmp)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in paths
        if stat.S_IMODE(p.stat().st_mode) != (0o700 if p.is_dir() else 0o600)
    }
    assert not wrong, f"not 0600 files in 0700 folders: {wrong}"
    for name in ("tokens.json", "users.json"):
        assert stat.S_IMODE((target.tmp / name).stat().st_mode) == 0o600
    assert any(Path(p).suffix == ".wal" for p in map(str, paths))  # the metrics WAL was among them
