"""The HTTP guards in front of every route: body size limits, the Host check, the Secure-cookie rule, and
HTTP Basic from browsers (issue 11, items 6 and 7). In-process; tests/security/test_http_hostile.py attacks a
real ``paramedic serve`` with the same requests."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from ipaddress import IPv4Network
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from starlette.requests import Request
from starlette.types import Message, Scope

from paramedic.assembly import Paramedic
from paramedic.auth import (
    BodyLimitMiddleware,
    TokenStore,
    TrustedHostsMiddleware,
    refusals_counter,
    secure_cookie_rule,
)
from paramedic.auth._hosts import default_hosts, host_name
from paramedic.auth._refusals import REFUSAL_REASONS
from paramedic.config import parse_config
from tests.support.payloads import SILENCE

CONFIG = """
server: {auth: {tokens_file: tokens.json, anonymous_read: true}}
metrics_store: {type: embedded, path: metrics}
alerting:
  data_dir: alerting
  route: {receiver: nobody, group_wait: 1s}
  receivers: [{name: nobody}]
"""
MIB = 1024 * 1024


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    server = Paramedic(parse_config(CONFIG), base_dir=tmp_path, registry=CollectorRegistry())
    store = TokenStore(tmp_path / "tokens.json")
    tokens = {role: store.create(f"{role}-bot", role) for role in ("viewer", "operator", "admin")}
    with TestClient(server.app, base_url="http://127.0.0.1", follow_redirects=False) as client:
        yield client, tokens


def refused(client: TestClient, reason: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'paramedic_http_refusals_total{{reason="{reason}"}}'):
            return float(line.split()[-1])
    raise AssertionError(f"no refusal counter for {reason}")


# -- body size -------------------------------------------------------------------------------------------


def test_a_declared_length_over_the_limit_is_413_for_everyone(
    served: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = served
    before = refused(client, "body_too_large")
    big = b"x" * (MIB + 1)
    for headers in ({}, {"Authorization": f"Bearer {tokens['admin']}"}):
        resp = client.post("/api/v2/silences", content=big, headers=headers)
        assert resp.status_code == 413, resp.text
        assert "over this route's limit of 1048576 bytes" in resp.json()["error"]
    assert client.post("/login", content=b"u=" + b"x" * 20_000).status_code == 413  # /login: 16 KiB
    assert refused(client, "body_too_large") == before + 3


def test_routes_with_bigger_bodies_have_bigger_limits(served: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = served
    resp = client.post("/api/v1/query", data={"query": "1", "pad": "x" * (3 * MIB)})  # query form: 4 MiB
    assert resp.status_code == 200 and resp.json()["data"]["result"][1] == "1"
    alerts = [{"labels": {"alertname": f"A{i}", "pad": "p" * 2000}} for i in range(600)]  # 1.2 MB of alerts
    ok = client.post("/api/v2/alerts", json=alerts, headers={"Authorization": f"Bearer {tokens['operator']}"})
    assert ok.status_code == 200, ok.text


async def _drive(limit: int, chunks: list[bytes], declared: int | None) -> tuple[list[Message], int, bool]:
    """Run BodyLimitMiddleware over an app that reads the whole body; returns the messages sent, how many
    chunks were received from the client, and whether the app was called."""
    received = 0
    called = False

    async def receive() -> Message:
        nonlocal received
        received += 1
        more = received < len(chunks)
        return {"type": "http.request", "body": chunks[received - 1], "more_body": more}

    async def app(scope: Scope, receive_: object, send: object) -> None:
        nonlocal called
        called = True
        request = Request(scope, receive_)  # type: ignore[arg-type]
        await request.body()
        raise AssertionError("the body over the limit was read to its end")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    scope: Scope = {"type": "http", "method": "POST", "path": "/x", "headers": headers}
    middleware = BodyLimitMiddleware(
        app, max_body_bytes=limit, routes={}, refusals=refusals_counter(CollectorRegistry())
    )
    await middleware(scope, receive, send)
    return sent, received, called


def test_a_declared_length_is_refused_before_the_app_reads_a_byte() -> None:
    sent, received, called = asyncio.run(_drive(1000, [b"x" * 2000], declared=2000))
    assert sent[0]["status"] == 413 and (b"connection", b"close") in sent[0]["headers"]
    assert received == 0 and not called


def test_a_chunked_body_stops_being_read_once_over_the_limit() -> None:
    chunks = [b"x" * 400] * 100  # 40 kB, no Content-Length
    sent, received, called = asyncio.run(_drive(1000, chunks, declared=None))
    assert called and sent[0]["status"] == 413
    assert received == 3  # 1200 bytes: the third chunk went over, nothing after it was read


def test_the_longest_prefix_sets_the_limit() -> None:
    middleware = BodyLimitMiddleware(
        lambda *_: None,  # type: ignore[arg-type,return-value]
        max_body_bytes=10,
        routes={"/api/": 100, "/api/v2/alerts": 1000},
        refusals=refusals_counter(CollectorRegistry()),
    )
    assert middleware.limit_for("/api/v2/alerts") == 1000
    assert middleware.limit_for("/api/v1/query") == 100
    assert middleware.limit_for("/login") == 10


# -- Host header -----------------------------------------------------------------------------------------


def test_host_names_are_compared_without_port_case_or_brackets() -> None:
    assert host_name("LocalHost:9300") == "localhost"
    assert host_name("[::1]:80") == "::1"
    assert host_name("::1") == "::1"
    assert host_name("example.com.") == "example.com"
    assert default_hosts("0.0.0.0") == ["localhost", "127.0.0.1", "::1"]
    assert default_hosts("paramedic.internal") == ["localhost", "127.0.0.1", "::1", "paramedic.internal"]


def test_default_hosts_are_loopback_listen_host_and_addresses() -> None:
    guard = TrustedHostsMiddleware(
        lambda *_: None,  # type: ignore[arg-type,return-value]
        hosts=default_hosts("paramedic.internal"),
        allow_ip_literals=True,
        refusals=refusals_counter(CollectorRegistry()),
    )
    for host in ("localhost", "127.0.0.1", "::1", "paramedic.internal", "10.1.2.3", "fe80::1"):
        assert guard.allowed(host), host
    for host in ("evil.example", "localhost.evil.example", "paramedic.internal.evil.example", ""):
        assert not guard.allowed(host), host


def test_an_explicit_list_is_exact_with_wildcards() -> None:
    guard = TrustedHostsMiddleware(
        lambda *_: None,  # type: ignore[arg-type,return-value]
        hosts=["Paramedic.example.com", "*.ops.example.com"],
        allow_ip_literals=False,
        refusals=refusals_counter(CollectorRegistry()),
    )
    assert guard.allowed("paramedic.example.com") and guard.allowed("a.b.ops.example.com")
    assert not guard.allowed("ops.example.com.evil") and not guard.allowed("127.0.0.1")


def test_a_foreign_host_is_400_before_anything_else(served: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = served
    before = refused(client, "untrusted_host")
    for path in ("/api/v1/query?query=1", "/-/healthy", "/login"):
        resp = client.get(path, headers={"Host": "rebind.evil.example"})
        assert resp.status_code == 400, path
        assert "invalid Host header" in resp.json()["error"]
    assert client.get("/api/v1/query?query=1", headers={"Host": "localhost:9300"}).status_code == 200
    assert refused(client, "untrusted_host") == before + 3


def test_trusted_hosts_star_allows_any(tmp_path: Path) -> None:
    cfg = parse_config(CONFIG.replace("server: {auth:", "server: {trusted_hosts: ['*'], auth:"))
    server = Paramedic(cfg, base_dir=tmp_path, registry=CollectorRegistry())
    with TestClient(server.app) as client:  # Host: testserver
        assert client.get("/-/healthy").status_code == 200


# -- roles -----------------------------------------------------------------------------------------------


def test_alert_sender_posts_alerts_and_nothing_else(
    served: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    client, _ = served
    sender = {
        "Authorization": f"Bearer {TokenStore(tmp_path / 'tokens.json').create('prom', 'alert-sender')}"
    }
    assert (
        client.post("/api/v2/alerts", json=[{"labels": {"alertname": "X"}}], headers=sender).status_code
        == 200
    )
    for method, path, body in (
        ("GET", "/api/v2/alerts", None),  # even reads: this server allows anonymous reads, not this token's
        ("GET", "/api/v1/query?query=1", None),
        ("POST", "/api/v2/silences", SILENCE),
        ("POST", "/api/v1/policies/p/mode", {"mode": "live"}),
    ):
        resp = client.request(method, path, json=body, headers=sender)
        assert resp.status_code == 403, (method, path)
        assert resp.json()["role"] == "alert-sender"


@pytest.mark.parametrize(
    ("path", "body"),
    [("/api/v1/policies/p/mode", {"mode": "live"}), ("/api/v1/deployments", {"app": "a", "revision": "v2"})],
)
def test_policy_modes_and_deployments_need_admin(
    served: tuple[TestClient, dict[str, str]], path: str, body: dict[str, str]
) -> None:
    client, tokens = served
    for role in ("viewer", "operator"):
        resp = client.post(path, json=body, headers={"Authorization": f"Bearer {tokens[role]}"})
        assert resp.status_code == 403 and resp.json()["required_role"] == "admin", role
    admin = client.post(path, json=body, headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert admin.status_code == 404  # allowed through; this server has no remediation section


# -- HTTP Basic from a browser ---------------------------------------------------------------------------


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"grafana:{token}".encode()).decode()


@pytest.mark.parametrize(
    "browser",
    [
        {"Cookie": "theme=dark"},
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Mode": "navigate"},
    ],
    ids=["cookie", "foreign-origin", "cross-site", "same-site", "navigate"],
)
def test_basic_auth_from_a_browser_cannot_change_state(
    served: tuple[TestClient, dict[str, str]], browser: dict[str, str]
) -> None:
    client, tokens = served
    client.cookies.clear()
    resp = client.post(
        "/api/v2/silences", json=SILENCE, headers={"Authorization": _basic(tokens["operator"])} | browser
    )
    assert resp.status_code == 403
    assert "HTTP Basic credentials from a browser" in resp.json()["error"]
    bearer = client.post(  # a page cannot add a bearer token by itself: no CSRF check
        "/api/v2/silences", json=SILENCE, headers={"Authorization": f"Bearer {tokens['operator']}"} | browser
    )
    assert bearer.status_code == 200
    reads = client.get("/api/v2/silences", headers={"Authorization": _basic(tokens["viewer"])} | browser)
    assert reads.status_code == 200


def test_basic_auth_from_tools_and_same_origin_pages_still_works(
    served: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = served
    for extra in ({}, {"Origin": "http://127.0.0.1", "Sec-Fetch-Site": "same-origin"}):
        resp = client.post(
            "/api/v2/silences", json=SILENCE, headers={"Authorization": _basic(tokens["operator"])} | extra
        )
        assert resp.status_code == 200, extra


# -- Secure cookies --------------------------------------------------------------------------------------


def _request(scheme: str, client: str, forwarded: str | None) -> Request:
    headers = [] if forwarded is None else [(b"x-forwarded-proto", forwarded.encode())]
    scope: Scope = {
        "type": "http",
        "scheme": scheme,
        "method": "GET",
        "path": "/login",
        "headers": headers,
        "client": (client, 1234),
        "server": ("127.0.0.1", 9300),
        "query_string": b"",
    }
    return Request(scope)


def test_secure_cookie_rule() -> None:
    proxies = [IPv4Network("10.0.0.0/8")]
    auto = secure_cookie_rule("auto", proxies)
    assert auto(_request("https", "192.0.2.1", None))
    assert auto(_request("http", "10.1.1.1", "https"))  # the TLS proxy says so
    assert auto(_request("http", "10.1.1.1", "https, http"))
    assert not auto(_request("http", "192.0.2.1", "https"))  # anyone else: not believed
    assert not auto(_request("http", "10.1.1.1", None))
    assert not auto(_request("http", "testclient", "https"))
    assert secure_cookie_rule("always", [])(_request("http", "192.0.2.1", None))
    assert not secure_cookie_rule("never", proxies)(_request("https", "10.1.1.1", "https"))


def test_refusal_reasons_are_all_exported(served: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = served
    for reason in REFUSAL_REASONS:
        assert refused(client, reason) >= 0
