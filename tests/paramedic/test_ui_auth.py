"""Web UI authentication: users (argon2id, 0600 file, CLI), the login form, the session cookie's flags, CSRF
on every state-changing request a cookie authenticates, logout, roles, and the demo's admin credentials."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from paramedic.assembly import Paramedic
from paramedic.auth import SESSION_COOKIE, SessionStore, TokenStore, UserStore
from paramedic.cli import app as cli
from paramedic.config import parse_config
from paramedic.demo import admin_user
from tests.support.payloads import SILENCE

CONFIG = """
server: {auth: {tokens_file: tokens.json, anonymous_read: true}}
metrics_store: {type: embedded, path: metrics}
alerting:
  data_dir: alerting
  route: {receiver: nobody, group_wait: 1s}
  receivers: [{name: nobody}]
"""
PASSWORDS = {"viewer": "viewer-password-1", "operator": "operator-password-1", "admin": "admin-password-1"}
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def server(tmp_path: Path) -> Paramedic:
    users = UserStore(tmp_path / "users.json")
    for role, password in PASSWORDS.items():
        users.create(role, role, password)
    return Paramedic(parse_config(CONFIG), base_dir=tmp_path, registry=CollectorRegistry())


@pytest.fixture
def client(server: Paramedic) -> Iterator[TestClient]:
    with TestClient(server.app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        yield c


def login_form(client: TestClient, next_url: str = "") -> str:
    page = client.get("/login", params={"next": next_url} if next_url else None)
    assert page.status_code == 200
    match = _CSRF_FIELD.search(page.text)
    assert match is not None
    return match.group(1)


def login(client: TestClient, user: str, password: str | None = None, next_url: str = "") -> str:
    """Log in through the form; returns the session's CSRF token (from a page's hidden field)."""
    token = login_form(client, next_url)
    form = {"username": user, "password": password or PASSWORDS[user], "csrf_token": token, "next": next_url}
    resp = client.post("/login", data=form)
    assert resp.status_code == 303, resp.text
    assert SESSION_COOKIE in client.cookies
    return session_csrf(client)


def session_csrf(client: TestClient) -> str:
    """The CSRF token of the client's session (what the pages render into forms and a meta tag)."""
    app = client.app
    assert isinstance(app, FastAPI)
    sessions = next(m.kwargs["sessions"] for m in app.user_middleware if "sessions" in m.kwargs)
    assert isinstance(sessions, SessionStore)
    session = sessions.get(client.cookies[SESSION_COOKIE])
    assert session is not None
    return session.csrf_token


def test_login_success_redirects_with_a_strict_session_cookie(client: TestClient) -> None:
    token = login_form(client, "/alerts?x=1")
    resp = client.post(
        "/login",
        data={
            "username": "viewer",
            "password": PASSWORDS["viewer"],
            "csrf_token": token,
            "next": "/alerts?x=1",
        },
    )
    assert resp.status_code == 303
    assert resp.headers["location"] == "/alerts?x=1"
    cookie = next(c for c in resp.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= flags
    assert "secure" not in flags  # plain http: a Secure cookie would never come back
    assert len(cookie.split(";")[0].split("=", 1)[1]) >= 40  # 256 random bits


def test_session_cookie_is_secure_over_https(server: Paramedic) -> None:
    with TestClient(server.app, base_url="https://127.0.0.1", follow_redirects=False) as c:
        token = login_form(c)
        resp = c.post(
            "/login", data={"username": "admin", "password": PASSWORDS["admin"], "csrf_token": token}
        )
        cookie = next(x for x in resp.headers.get_list("set-cookie") if x.startswith(SESSION_COOKIE + "="))
        assert "secure" in cookie.lower()


@pytest.mark.parametrize(
    ("user", "password"), [("viewer", "wrong-password-123"), ("nobody", "whatever-12345")]
)
def test_login_failure_is_401_without_a_session(client: TestClient, user: str, password: str) -> None:
    token = login_form(client)
    resp = client.post("/login", data={"username": user, "password": password, "csrf_token": token})
    assert resp.status_code == 401
    assert "Invalid user name or password" in resp.text
    assert SESSION_COOKIE not in client.cookies


def test_login_form_needs_its_own_csrf_token(client: TestClient) -> None:
    login_form(client)
    resp = client.post("/login", data={"username": "admin", "password": PASSWORDS["admin"]})
    assert resp.status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_next_never_leaves_the_server(client: TestClient) -> None:
    token = login_form(client)
    form = {
        "username": "admin",
        "password": PASSWORDS["admin"],
        "csrf_token": token,
        "next": "//evil.example/",
    }
    resp = client.post("/login", data=form)
    assert resp.headers["location"] == "/"


def test_ui_redirects_to_login_even_with_anonymous_reads(client: TestClient) -> None:
    resp = client.get("/alerts", params={"x": "1"})
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?next=%2Falerts%3Fx%3D1"
    assert client.get("/").headers["location"] == "/login?next=%2F"
    assert client.get("/api/v2/alerts").status_code == 200  # the API keeps anonymous_read
    assert client.get("/login").status_code == 200
    login(client, "viewer")
    assert client.get("/alerts").status_code != 303


def test_csrf_required_for_cookie_authenticated_writes(client: TestClient) -> None:
    csrf = login(client, "operator")
    missing = client.post("/api/v2/silences", json=SILENCE)
    assert missing.status_code == 403
    assert "CSRF" in missing.json()["error"]
    wrong = client.post("/api/v2/silences", json=SILENCE, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    ok = client.post("/api/v2/silences", json=SILENCE, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200, ok.text
    reads = client.get("/api/v2/silences")  # reads need no token
    assert reads.status_code == 200


def test_form_posts_carry_the_csrf_field(client: TestClient) -> None:
    csrf = login(client, "viewer")
    refused = client.post("/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    out = client.post("/logout", data={"csrf_token": csrf})
    assert out.status_code == 303
    assert out.headers["location"] == "/login"


def test_bearer_token_requests_are_exempt_from_csrf(client: TestClient, tmp_path: Path) -> None:
    token = TokenStore(tmp_path / "tokens.json").create("bot", "operator")
    resp = client.post("/api/v2/silences", json=SILENCE, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200


def test_logout_ends_the_session(client: TestClient) -> None:
    csrf = login(client, "operator")
    old = client.cookies[SESSION_COOKIE]
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    client.cookies.set(SESSION_COOKIE, old)  # a stolen copy of the cookie is useless now
    assert client.get("/alerts").status_code == 303
    resp = client.post("/api/v2/silences", json=SILENCE, headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 401


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_an_admin_may_switch_a_policy_mode(client: TestClient, role: str) -> None:
    csrf = login(client, role)
    resp = client.post("/api/v1/policies/p/mode", json={"mode": "live"}, headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 403
    body = resp.json()
    assert body["required_role"] == "admin"
    assert body["role"] == role


def test_deleted_user_loses_the_session_and_role_changes_apply(client: TestClient, tmp_path: Path) -> None:
    csrf = login(client, "operator")
    users = UserStore(tmp_path / "users.json")
    users.create("operator", "viewer", PASSWORDS["operator"], replace=True)
    demoted = client.post("/api/v2/silences", json=SILENCE, headers={"X-CSRF-Token": csrf})
    assert demoted.status_code in (401, 403)  # the replaced user's session ended (below)
    assert client.get("/alerts").status_code == 303
    csrf = login(client, "operator")  # logged in again: the new role applies
    demoted = client.post("/api/v2/silences", json=SILENCE, headers={"X-CSRF-Token": csrf})
    assert demoted.status_code == 403
    users.delete("operator")
    assert client.get("/alerts").status_code == 303


def test_replacing_a_user_ends_the_sessions_of_its_old_password(client: TestClient, tmp_path: Path) -> None:
    """Leak found by the attacker review: ``paramedic user create --replace`` (a new password, say after the
    old one leaked, or other grants) left every session opened with the old password alive until it idled
    out (8 h), with the new user's role and scope."""
    login(client, "viewer")
    assert client.get("/alerts").status_code == 200
    UserStore(tmp_path / "users.json").create("viewer", "viewer", "a-new-password-123", replace=True)
    assert client.get("/alerts").status_code == 303  # back to the log-in page
    assert client.get("/alerts").status_code == 303  # and the session is gone for good
    login(client, "viewer", "a-new-password-123")
    assert client.get("/alerts").status_code == 200


def test_sessions_expire_idle_and_absolute() -> None:
    now = [1000.0]
    store = SessionStore(idle_s=60, max_s=300, clock=lambda: now[0])
    sid, _ = store.create("u")
    for _ in range(4):
        now[0] += 59
        assert store.get(sid) is not None
    now[0] += 70
    assert store.get(sid) is None  # idle
    sid, _ = store.create("u")
    for _ in range(6):
        now[0] += 55
    assert store.get(sid) is None  # absolute lifetime
    assert len(store) == 0


def test_password_hash_is_argon2id_in_a_private_file(tmp_path: Path) -> None:
    users = UserStore(tmp_path / "users.json")
    users.create("alice", "operator", "correct horse battery")
    text = (tmp_path / "users.json").read_text()
    assert "$argon2id$" in text
    assert "correct horse" not in text
    assert stat.S_IMODE((tmp_path / "users.json").stat().st_mode) == 0o600
    assert users.authenticate("alice", "correct horse battery") is not None
    assert users.authenticate("alice", "correct horse battery!") is None


def test_user_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    users_file = tmp_path / "data" / "users.json"
    pw = tmp_path / "pw"
    pw.write_text("a-long-enough-password\n")
    created = runner.invoke(
        cli, ["user", "create", "--name", "ops", "--role", "operator", "--password-file", str(pw),
              "--users-file", str(users_file)],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    prompted = runner.invoke(
        cli, ["user", "create", "--name", "v", "--users-file", str(users_file)],
        input="another-long-password\nanother-long-password\n",
    )  # fmt: skip
    assert prompted.exit_code == 0, prompted.output
    listed = runner.invoke(cli, ["user", "list", "--users-file", str(users_file)])
    assert "ops\toperator" in listed.output
    assert "v\tviewer" in listed.output
    assert "argon2" not in listed.output
    assert UserStore(users_file).authenticate("ops", "a-long-enough-password") is not None
    pw.write_text("short\n")
    short = runner.invoke(
        cli, ["user", "create", "--name", "x", "--password-file", str(pw), "--users-file", str(users_file)]
    )
    assert short.exit_code == 1
    assert "at least 12" in short.output
    pw.write_text("a-long-enough-password\n")
    sender = runner.invoke(
        cli, ["user", "create", "--name", "prom", "--role", "alert-sender", "--password-file", str(pw),
              "--users-file", str(users_file)],
    )  # fmt: skip
    assert sender.exit_code == 1 and "unknown user role 'alert-sender'" in sender.output  # tokens only
    taken = runner.invoke(
        cli, ["user", "create", "--name", "ops", "--password-file", str(tmp_path / "pw"),
              "--users-file", str(users_file)],
    )  # fmt: skip
    assert taken.exit_code == 1
    assert runner.invoke(cli, ["user", "delete", "ops", "--users-file", str(users_file)]).exit_code == 0
    missing = runner.invoke(cli, ["user", "delete", "ops", "--users-file", str(users_file)])
    assert missing.exit_code == 1
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600


def test_demo_admin_credentials_file(tmp_path: Path) -> None:
    password, path = admin_user(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    user, _, stored = path.read_text().strip().partition(":")
    assert (user, stored) == ("admin", password)
    assert len(password) >= 20
    principal = UserStore(tmp_path / "users.json").authenticate(user, password)
    assert principal is not None
    assert principal.role == "admin"
    again, _ = admin_user(tmp_path)  # every start: a new password, the old one stops working
    assert again != password
    assert UserStore(tmp_path / "users.json").authenticate("admin", password) is None
