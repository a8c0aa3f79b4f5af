"""The simulated UAA: every grant, the authorization-code login round trip, JWKs that verify its tokens."""

from __future__ import annotations

import urllib.parse

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.platforms.cf_sim.conftest import REDIRECT, Sim


def _token(sim: Sim, data: dict[str, str], auth: tuple[str, str]) -> httpx.Response:
    return httpx.post(f"{sim.cf.uaa_url}/oauth/token", data=data, auth=auth, timeout=10)


def test_tokens_are_rs256_jwts_verifiable_with_the_published_key(sim: Sim) -> None:
    resp = _token(sim, {"grant_type": "client_credentials"}, ("paramedic", sim.cf.client_secret("paramedic")))
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    keys = KeySet.import_key_set(httpx.get(f"{sim.cf.uaa_url}/token_keys").json())
    token = jwt.decode(body["access_token"], keys, algorithms=["RS256"])
    assert token.header["alg"] == "RS256" and token.header["kid"] == keys.keys[0].kid
    claims = token.claims
    assert claims["client_id"] == "paramedic" and claims["jti"] == body["jti"]
    # Paramedic's client reads everything and, for remediation, may write (cloud_controller.admin)
    assert set(claims["scope"]) == {
        "cloud_controller.read",
        "cloud_controller.admin_read_only",
        "cloud_controller.admin",
    }
    assert claims["iss"] == f"{sim.cf.uaa_url}/oauth/token" and claims["exp"] > claims["iat"]
    assert "refresh_token" not in body
    headers = {"Authorization": f"bearer {body['access_token']}"}
    apps = httpx.get(f"{sim.cf.cc_url}/v3/apps", headers=headers).json()["resources"]
    assert len(apps) == len(sim.cf.foundation.apps)
    # a reader without write rights (the auditor of globex/prod) may not restart the app it audits
    auditor = _token(
        sim,
        {
            "grant_type": "password",
            "username": "auditor-globex",
            "password": sim.cf.password("auditor-globex"),
        },
        ("cf", ""),
    ).json()["access_token"]
    [globex] = [
        a
        for a in httpx.get(f"{sim.cf.cc_url}/v3/apps", headers={"Authorization": f"bearer {auditor}"}).json()[
            "resources"
        ]
        if a["name"] == "api"
    ]
    denied = httpx.post(
        f"{sim.cf.cc_url}/v3/apps/{globex['guid']}/actions/restart",
        headers={"Authorization": f"bearer {auditor}"},
    )
    assert denied.status_code == 403


def test_bad_credentials_and_grants_are_refused(sim: Sim) -> None:
    wrong = _token(sim, {"grant_type": "client_credentials"}, ("paramedic", "wrong"))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    user = _token(sim, {"grant_type": "password", "username": "admin", "password": "wrong"}, ("cf", ""))
    assert (user.status_code, user.json()["error"]) == (401, "unauthorized")
    grant = _token(sim, {"grant_type": "client_credentials"}, ("cf", ""))
    assert (grant.status_code, grant.json()["error"]) == (400, "unauthorized_client")


def test_password_then_refresh_and_userinfo(sim: Sim) -> None:
    first = _token(
        sim,
        {"grant_type": "password", "username": "dev-acme", "password": sim.cf.password("dev-acme")},
        ("cf", ""),
    ).json()
    refreshed = _token(
        sim, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, ("cf", "")
    )
    assert refreshed.status_code == 200
    access = refreshed.json()["access_token"]
    assert access != first["access_token"]
    info = httpx.get(f"{sim.cf.uaa_url}/userinfo", headers={"Authorization": f"bearer {access}"}).json()
    assert info["user_name"] == "dev-acme" and info["user_id"] == sim.cf.accounts.user("dev-acme").guid  # type: ignore[union-attr]
    assert httpx.get(f"{sim.cf.uaa_url}/userinfo").status_code == 401


def test_authorization_code_login_round_trip(sim: Sim) -> None:
    secret = sim.cf.client_secret("paramedic-ui")
    query = {"response_type": "code", "client_id": "paramedic-ui", "redirect_uri": REDIRECT, "state": "s-42"}
    page = httpx.get(f"{sim.cf.uaa_url}/oauth/authorize", params=query)
    assert page.status_code == 200 and 'name="password"' in page.text
    elsewhere = httpx.get(
        f"{sim.cf.uaa_url}/oauth/authorize", params={**query, "redirect_uri": "http://evil/cb"}
    )
    assert elsewhere.status_code == 400
    form = {**query, "username": "auditor-globex", "password": sim.cf.password("auditor-globex")}
    refused = httpx.post(f"{sim.cf.uaa_url}/oauth/authorize", data={**form, "password": "nope"})
    assert refused.status_code == 401
    login = httpx.post(f"{sim.cf.uaa_url}/oauth/authorize", data=form)
    assert login.status_code == 302
    location = urllib.parse.urlsplit(login.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    params = dict(urllib.parse.parse_qsl(location.query))
    assert params["state"] == "s-42"
    exchange = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT}
    token = _token(sim, exchange, ("paramedic-ui", secret))
    assert token.status_code == 200
    headers = {"Authorization": f"bearer {token.json()['access_token']}"}
    names = {(a["name"]) for a in httpx.get(f"{sim.cf.cc_url}/v3/apps", headers=headers).json()["resources"]}
    assert names == {"api"}  # the auditor of globex/prod sees that space's api only
    again = _token(sim, exchange, ("paramedic-ui", secret))
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")  # codes are single-use


def test_limits_on_what_a_stranger_sends(sim: Sim) -> None:
    odd = _token(sim, {"grant_type": "password", "username": "admin", "password": "pässwörd"}, ("cf", ""))
    assert (odd.status_code, odd.json()["error"]) == (401, "unauthorized")  # not a 500 on non-ASCII
    big = httpx.post(f"{sim.cf.uaa_url}/oauth/token", content=b"a=" + b"x" * 20_000, auth=("cf", ""))
    assert big.status_code == 413
    chunked = httpx.post(
        f"{sim.cf.uaa_url}/oauth/token", content=iter([b"grant_type=password&", b"x=" + b"y" * 20_000])
    )
    assert chunked.status_code == 413  # no Content-Length: refused while reading, not after
    cc = httpx.post(
        f"{sim.cf.cc_url}/v3/deployments", content=b"{" + b" " * 70_000 + b"}", headers=sim.auth("admin")
    )
    assert (cc.status_code, cc.json()["errors"][0]["title"]) == (413, "CF-InvalidRequest")
    parse = httpx.post(f"{sim.cf.cc_url}/v3/deployments", content=b"{nope", headers=sim.auth("admin"))
    assert (parse.status_code, parse.json()["errors"][0]["title"]) == (400, "CF-MessageParseError")
