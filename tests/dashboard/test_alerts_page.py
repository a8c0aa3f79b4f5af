"""The Alerts and Remediation page shells behind the server's login: CSRF token in forms and data attributes,
write controls only for operators, CSP headers, no inline script, and user-controlled path text escaped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from paramedic.assembly import Paramedic
from paramedic.auth import UserStore
from paramedic.config import parse_config

CONFIG = "server: {auth: {tokens_file: tokens.json}}\nmetrics_store: {type: embedded, path: metrics}\n"
USERS = {"ops": ("operator", "operator-password-1"), "val": ("viewer", "viewer-password-1")}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    users = UserStore(tmp_path / "users.json")
    for name, (role, password) in USERS.items():
        users.create(name, role, password)
    server = Paramedic(parse_config(CONFIG), base_dir=tmp_path, registry=CollectorRegistry())
    with TestClient(server.app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        yield c


def login(client: TestClient, name: str) -> None:
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    form = {"username": name, "password": USERS[name][1], "csrf_token": token.group(1)}
    assert client.post("/login", data=form).status_code == 303


@pytest.mark.parametrize("path", ["/alerts", "/remediation", "/remediation/actions/abc"])
def test_pages_need_login(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 303


def test_operator_gets_forms_with_the_session_csrf_token(client: TestClient) -> None:
    login(client, "ops")
    page = client.get("/alerts")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    tokens = set(re.findall(r'(?:name="csrf_token" value|data-csrf)="([^"]+)"', page.text))
    assert len(tokens) == 1  # one session token: silence form, logout form, data attribute for the JS
    assert 'id="silence-form"' in page.text
    assert 'data-can-operate="true"' in page.text
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) is None
    assert "ops (operator)" in page.text
    remediation = client.get("/remediation")
    assert 'data-can-operate="true"' in remediation.text
    assert 'data-can-admin="false"' in remediation.text  # no policy mode switches for an operator
    assert 'src="/static/remediation.js"' in remediation.text


def test_viewer_gets_no_write_controls(client: TestClient) -> None:
    login(client, "val")
    page = client.get("/alerts")
    assert 'id="silence-form"' not in page.text
    assert 'data-can-operate="false"' in client.get("/remediation").text


def test_action_id_from_the_path_is_escaped(client: TestClient) -> None:
    login(client, "ops")
    page = client.get("/remediation/actions/%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E")
    assert page.status_code == 200
    assert "<img src=x" not in page.text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page.text


def test_scripts_are_served(client: TestClient) -> None:
    for name in ("alerts.js", "remediation.js"):
        resp = client.get(f"/static/{name}")  # open: static files need no login
        assert resp.status_code == 200
        assert "textContent" in resp.text
        assert "innerHTML" not in resp.text
        assert "X-CSRF-Token" in resp.text
