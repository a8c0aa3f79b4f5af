"""Log-in through UAA against the real CF simulation (UAA + CC on loopback, real local platform underneath).

A browser-less client follows the redirects: Paramedic ``/login/uaa`` -> UAA's login form (posted with the
user's password) -> Paramedic's callback -> the page asked for, which reports the session's principal. Users
of the simulation: ``dev-acme`` (space_developer of acme/prod, organization_user of acme), ``auditor-globex``
(organization_auditor of globex, space_auditor of globex/prod), ``admin`` (cloud_controller.admin) and
``no-roles``. The attacks: a forged, replayed or other-browser ``state``; a code issued to another UAA client;
access tokens tampered with between UAA and Paramedic (a man in the middle rewrites the token answer).
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from prometheus_client import CollectorRegistry

from paramedic.auth import AuthConfig, UaaConfig, UaaIdentityProvider, UserStore, install
from platforms.cf_sim.runner import ServedApp, SimOptions, SimulatedFoundation
from platforms.tenancy import parse_grant
from tests.support.servers import require_binary

CALLBACK = "/login/uaa/callback"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


class ManInTheMiddle(httpx.AsyncBaseTransport):
    """Passes requests to the real UAA and CC; in a ``mode`` other than ``off``, rewrites the access token of
    UAA's token answer to make its holder a foundation admin."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.mode = "off"
        self.public_key = b""  # UAA's public JWK, as an attacker reads it from /token_keys

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.inner.handle_async_request(request)
        if self.mode == "off" or not request.url.path.endswith("/oauth/token"):
            return resp
        body = json.loads(await resp.aread())
        if "access_token" in body:
            body["access_token"] = self.forge(body["access_token"])
        return httpx.Response(resp.status_code, json=body)

    def forge(self, token: str) -> str:
        header_seg, payload_seg, signature = token.split(".")
        header, claims = _unb64(header_seg), _unb64(payload_seg)
        claims["scope"] = [*claims["scope"], "cloud_controller.admin"]
        if self.mode == "payload":  # claims changed, UAA's signature kept
            return f"{header_seg}.{_b64(json.dumps(claims).encode())}.{signature}"
        if self.mode == "alg_none":
            head = _b64(json.dumps({"alg": "none", "kid": header["kid"], "typ": "JWT"}).encode())
            return f"{head}.{_b64(json.dumps(claims).encode())}."
        if self.mode == "hs256_public_key":  # the classic: HMAC keyed with UAA's public key
            key = OctKey.import_key(self.public_key)
            return jwt.encode({"alg": "HS256", "kid": header["kid"]}, claims, key, algorithms=["HS256"])
        assert self.mode == "own_key"  # signed by the attacker's RSA key under UAA's key id
        own = RSAKey.generate_key(2048, parameters={"kid": header["kid"]})
        return jwt.encode({"alg": "RS256", "kid": header["kid"]}, claims, own)


@dataclass
class Env:
    cf: SimulatedFoundation
    url: str  # Paramedic with server.auth.uaa from config (secret file)
    mitm_url: str  # Paramedic with an injected UaaIdentityProvider behind the man in the middle
    mitm: ManInTheMiddle
    registry: CollectorRegistry


def _whoami_app() -> FastAPI:
    app = FastAPI()

    @app.get("/apps")  # a dashboard page of the route table: needs a log-in
    def apps(request: Request) -> dict[str, Any]:
        principal = request.state.principal
        grants = principal.scope.grants
        return {
            "name": principal.name,
            "role": principal.role,
            "foundation": principal.scope.is_foundation,
            "grants": None if grants is None else [g.to_json() for g in grants],
        }

    return app


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    require_binary("haproxy")
    require_binary("prometheus-node-exporter")
    root: Path = tmp_path_factory.mktemp("uaa-login")
    socks = [ServedApp.bind(), ServedApp.bind()]
    urls = [f"http://127.0.0.1:{s.getsockname()[1]}" for s in socks]
    options = SimOptions(instances=1, redirect_uris=tuple(u + CALLBACK for u in urls))
    registry = CollectorRegistry()
    with SimulatedFoundation(root / "cf", options, registry=CollectorRegistry()) as cf:
        (root / "uaa-secret").write_text(cf.client_secret("paramedic-ui") + "\n")
        uaa = UaaConfig(
            url=cf.uaa_url, client_id="paramedic-ui", client_secret_file="uaa-secret", cc_api_url=cf.cc_url
        )
        config = AuthConfig(tokens_file="data/tokens.json", uaa=uaa)
        UserStore(root / "data" / "users.json").create(
            "pw-dev", "operator", "correct horse battery", grants=[parse_grant("acme/dev", "operator")]
        )
        plain, mitm_app = _whoami_app(), _whoami_app()
        install(plain, config, base_dir=root, registry=registry)
        mitm = ManInTheMiddle()
        mitm.public_key = httpx.get(f"{cf.uaa_url}/token_key").content
        provider = UaaIdentityProvider(uaa, cf.client_secret("paramedic-ui"), transport=mitm, per_page=1)
        install(mitm_app, config, base_dir=root, registry=CollectorRegistry(), identity_provider=provider)
        servers = [ServedApp("paramedic", plain, socks[0]), ServedApp("paramedic-mitm", mitm_app, socks[1])]
        for server in servers:
            server.start()
        try:
            yield Env(cf, urls[0], urls[1], mitm, registry)
        finally:
            for server in servers:
                server.stop()


def _uaa_form(page: httpx.Response) -> dict[str, str]:
    fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text)
    return {name: html.unescape(value) for name, value in fields}


def start_login(client: httpx.Client, base: str, next_url: str = "/apps") -> dict[str, str]:
    """Paramedic -> UAA's login form; returns the form's hidden fields."""
    page = client.get(f"{base}/login/uaa", params={"next": next_url}, follow_redirects=True)
    assert page.status_code == 200 and 'name="password"' in page.text, page.text
    return _uaa_form(page)


def uaa_callback(env: Env, client: httpx.Client, base: str, user: str) -> str:
    """Log ``user`` in at UAA; returns the callback URL UAA redirects to (not followed)."""
    fields = start_login(client, base)
    fields.update(username=user, password=env.cf.password(user))
    answer = client.post(f"{env.cf.uaa_url}/oauth/authorize", data=fields)
    assert answer.status_code == 302, answer.text
    location: str = answer.headers["location"]
    assert location.startswith(base + CALLBACK)
    return location


def login(env: Env, user: str, base: str | None = None) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(timeout=30)
    base = base or env.url
    final = client.get(uaa_callback(env, client, base, user), follow_redirects=True)
    return client, final


def _sso_results(env: Env) -> dict[str, float]:
    return {
        s.labels["result"]: s.value
        for m in env.registry.collect()
        if m.name == "paramedic_sso_logins"
        for s in m.samples
        if s.name.endswith("_total")
    }


def test_login_page_offers_cloud_foundry(env: Env) -> None:
    page = httpx.get(f"{env.url}/login", params={"next": "/apps"})
    assert page.status_code == 200
    assert "Log in with Cloud Foundry (UAA)" in page.text and 'href="/login/uaa?next=/apps"' in page.text


def test_the_redirect_to_uaa_carries_state_and_pkce(env: Env) -> None:
    resp = httpx.get(f"{env.url}/login/uaa")
    assert resp.status_code == 303
    target = urllib.parse.urlsplit(resp.headers["location"])
    query = dict(urllib.parse.parse_qsl(target.query))
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{env.cf.uaa_url}/oauth/authorize"
    assert query["client_id"] == "paramedic-ui" and query["redirect_uri"] == env.url + CALLBACK
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32 and "cloud_controller.read" in query["scope"].split()
    cookie = resp.headers["set-cookie"].lower()
    assert "paramedic_sso=" in cookie and "httponly" in cookie and "path=/login/uaa" in cookie


def test_space_developer_is_operator_of_that_space_only(env: Env) -> None:
    client, final = login(env, "dev-acme")
    assert final.status_code == 200, final.text
    assert str(final.url) == env.url + "/apps"  # the page asked for before the log-in
    me = final.json()
    assert (me["name"], me["role"], me["foundation"]) == ("dev-acme", "operator", False)
    # organization_user of acme grants nothing: only the space developer role shows
    assert me["grants"] == [{"org": "acme", "space": "prod", "role": "operator"}]
    cookie = next(c for c in client.cookies.jar if c.name == "paramedic_session")
    assert cookie.expires is not None  # the session lives no longer than the UAA token (600 s here)
    assert cookie.expires <= time.time() + env.cf.options.token_ttl_s + 2


def test_org_auditor_is_viewer_of_the_org(env: Env) -> None:
    _, final = login(env, "auditor-globex")
    me = final.json()
    assert (me["role"], me["foundation"]) == ("viewer", False)
    assert me["grants"] == [
        {"org": "globex", "role": "viewer"},
        {"org": "globex", "space": "prod", "role": "viewer"},
    ]


def test_cloud_controller_admin_is_foundation_admin(env: Env) -> None:
    _, final = login(env, "admin")
    assert final.json() == {"name": "admin", "role": "admin", "foundation": True, "grants": None}


def test_user_without_roles_gets_a_page_not_a_session(env: Env) -> None:
    client, final = login(env, "no-roles")
    assert final.status_code == 403
    assert "No Cloud Foundry roles grant access to Paramedic" in final.text
    assert "paramedic_session" not in client.cookies
    assert client.get(f"{env.url}/apps").status_code == 303  # still anonymous: off to /login


def test_replayed_state_is_refused(env: Env) -> None:
    client = httpx.Client(timeout=30)
    callback = uaa_callback(env, client, env.url, "dev-acme")
    assert client.get(callback).status_code == 303  # the first time: logged in
    replay = client.get(callback)
    assert replay.status_code == 400 and "log in again" in replay.text


def test_forged_state_is_refused(env: Env) -> None:
    client = httpx.Client(timeout=30)
    callback = uaa_callback(env, client, env.url, "dev-acme")
    parts = urllib.parse.urlsplit(callback)
    query = dict(urllib.parse.parse_qsl(parts.query))
    forged = client.get(f"{env.url}{CALLBACK}", params={**query, "state": "x" * 43})
    assert forged.status_code == 400 and "paramedic_session" not in client.cookies


def test_state_started_in_another_browser_is_refused(env: Env) -> None:
    victim = httpx.Client(timeout=30)
    attacker = httpx.Client(timeout=30)
    callback = uaa_callback(env, attacker, env.url, "dev-acme")  # the attacker's own log-in...
    start_login(victim, env.url)  # ... planted in a victim that has a binding cookie of its own
    planted = victim.get(callback)
    assert planted.status_code == 400 and "paramedic_session" not in victim.cookies
    assert attacker.get(callback).status_code == 400  # and the state is spent


def test_code_issued_to_another_client_is_refused(env: Env) -> None:
    other = httpx.Client(timeout=30)
    form = {
        "client_id": "other-ui",
        "redirect_uri": env.url + CALLBACK,
        "response_type": "code",
        "username": "admin",
        "password": env.cf.password("admin"),
    }
    code = dict(
        urllib.parse.parse_qsl(
            urllib.parse.urlsplit(
                other.post(f"{env.cf.uaa_url}/oauth/authorize", data=form).headers["location"]
            ).query
        )
    )["code"]
    client = httpx.Client(timeout=30)
    state = start_login(client, env.url)["state"]
    before = _sso_results(env)["code_refused"]
    resp = client.get(f"{env.url}{CALLBACK}", params={"state": state, "code": code})
    assert resp.status_code == 401 and "UAA refused" in resp.text
    assert "paramedic_session" not in client.cookies
    assert _sso_results(env)["code_refused"] == before + 1


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        ("payload", "does not verify"),
        ("alg_none", "need RS256"),
        ("hs256_public_key", "need RS256"),
        ("own_key", "does not verify"),
    ],
)
def test_tampered_token_is_refused(env: Env, mode: str, why: str) -> None:
    env.mitm.mode = mode
    try:
        client, final = login(env, "dev-acme", env.mitm_url)
    finally:
        env.mitm.mode = "off"
    assert final.status_code == 401 and why in final.text, final.text
    assert "paramedic_session" not in client.cookies


def test_untampered_login_through_the_same_provider_pages_through_roles(env: Env) -> None:
    _, final = login(env, "auditor-globex", env.mitm_url)  # per_page=1: two pages of roles
    assert final.status_code == 200 and final.json()["grants"] == [
        {"org": "globex", "role": "viewer"},
        {"org": "globex", "space": "prod", "role": "viewer"},
    ]


def test_password_session_carries_the_users_scope(env: Env) -> None:
    client = httpx.Client(timeout=30)
    page = client.get(f"{env.url}/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"csrf_token": token.group(1), "next": "/apps", "username": "pw-dev"}
    final = client.post(
        f"{env.url}/login", data={**form, "password": "correct horse battery"}, follow_redirects=True
    )
    assert final.status_code == 200
    assert final.json()["grants"] == [{"org": "acme", "space": "dev", "role": "operator"}]


def test_stolen_code_is_useless_with_another_login_pkce(env: Env) -> None:
    victim = httpx.Client(timeout=30)
    stolen = dict(
        urllib.parse.parse_qsl(urllib.parse.urlsplit(uaa_callback(env, victim, env.url, "admin")).query)
    )
    attacker = httpx.Client(timeout=30)
    own_state = start_login(attacker, env.url)["state"]  # a state (and binding cookie) of the attacker's own
    resp = attacker.get(f"{env.url}{CALLBACK}", params={"state": own_state, "code": stolen["code"]})
    assert resp.status_code == 401 and "UAA refused" in resp.text  # the code's PKCE challenge is the victim's
    assert "paramedic_session" not in attacker.cookies
