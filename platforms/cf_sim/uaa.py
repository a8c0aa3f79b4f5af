"""The simulated UAA: ``/oauth/token``, ``/oauth/authorize``, ``/token_keys``, ``/userinfo``, ``/info``.

Grants: ``client_credentials``, ``password``, ``refresh_token`` and ``authorization_code`` (the login form of
``GET /oauth/authorize``; its POST checks the user's credentials and the client's registered redirect URIs and
redirects to ``redirect_uri?code=...&state=...``; a code is single-use and lives 5 minutes; PKCE (RFC 7636,
``code_challenge_method=S256``) as UAA: a code issued with a challenge is redeemed only with its verifier).
Clients authenticate with HTTP Basic or ``client_id``/``client_secret`` form fields, as UAA accepts. Error
bodies are UAA's (``{"error": "invalid_client", "error_description": ...}``). Request bodies are limited
to 16 KiB.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from platforms.cf_sim.accounts import Accounts, Client, User
from platforms.cf_sim.http_limits import BodyTooLargeError, read_limited
from platforms.cf_sim.sim_metrics import SimMetrics
from platforms.cf_sim.tokens import InvalidTokenError, TokenIssuer

__all__ = ["MAX_FORM_BYTES", "UAA", "uaa_app"]

MAX_FORM_BYTES = 16 * 1024
CODE_TTL_S = 300.0
MAX_GRANTS = (
    10_000  # outstanding codes and refresh tokens each; expired ones are dropped first, then the oldest
)


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


@dataclass(frozen=True, slots=True)
class _Grant:
    """What a code or a refresh token stands for."""

    client_id: str
    username: str | None
    scopes: tuple[str, ...]
    expires: float
    code_challenge: str = ""  # PKCE S256 challenge of an authorization code ("" = issued without PKCE)


class UAA:
    """Token logic over the accounts, independent of HTTP (the app below is a thin layer)."""

    def __init__(
        self,
        accounts: Accounts,
        issuer: TokenIssuer,
        *,
        token_ttl_s: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.accounts = accounts
        self.issuer = issuer
        self.token_ttl_s = token_ttl_s
        self._clock = clock
        self._codes: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._lock = threading.Lock()

    def authenticate_client(self, client_id: str, secret: str) -> Client:
        client = self.accounts.client(client_id)
        if client is None or not secrets.compare_digest(client.secret.encode(), secret.encode()):
            raise OAuthError(401, "invalid_client", "Bad credentials")
        return client

    def authenticate_user(self, username: str, password: str) -> User:
        user = self.accounts.user(username)
        if user is None or not secrets.compare_digest(user.password.encode(), password.encode()):
            raise OAuthError(401, "unauthorized", "Bad credentials")
        return user

    def _scopes(self, client: Client, user: User | None) -> tuple[str, ...]:
        if user is None:
            return client.scopes
        if "*" in client.scopes:
            return user.scopes
        return tuple(s for s in user.scopes if s in client.scopes)

    def token_response(self, client: Client, user: User | None, grant: str) -> dict[str, Any]:
        scopes = self._scopes(client, user)
        claims: dict[str, Any] = {
            "client_id": client.client_id,
            "cid": client.client_id,
            "azp": client.client_id,
            "scope": list(scopes),
            "grant_type": grant,
            "aud": sorted({s.split(".")[0] for s in scopes} | {client.client_id}),
            "sub": client.client_id if user is None else user.guid,
            "zid": "uaa",
            "origin": "uaa",
        }
        if user is not None:
            claims.update(
                {"user_id": user.guid, "user_name": user.username, "email": f"{user.username}@example.org"}
            )
        access = self.issuer.issue(claims, self.token_ttl_s)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(self.token_ttl_s),
            "scope": " ".join(scopes),
            "jti": self.issuer.verify(access)["jti"],
        }
        if grant != "client_credentials" and "refresh_token" in client.grants:
            refresh = secrets.token_urlsafe(24) + "-r"
            owner = None if user is None else user.username
            self._keep(self._refresh, refresh, _Grant(client.client_id, owner, scopes, self._clock() + 86400))
            body["refresh_token"] = refresh
        return body

    def new_code(self, client: Client, user: User, code_challenge: str = "") -> str:
        code = secrets.token_urlsafe(12)
        grant = _Grant(client.client_id, user.username, (), self._clock() + CODE_TTL_S, code_challenge)
        self._keep(self._codes, code, grant)
        return code

    def _keep(self, store: dict[str, _Grant], key: str, grant: _Grant) -> None:
        now = self._clock()
        with self._lock:
            if len(store) >= MAX_GRANTS:
                for old in [k for k, g in store.items() if g.expires < now] or list(store)[
                    : MAX_GRANTS // 10
                ]:
                    del store[old]
            store[key] = grant

    def _redeem(
        self, store: dict[str, _Grant], key: str, client: Client, what: str, verifier: str = ""
    ) -> User:
        with self._lock:
            grant = store.pop(key, None) if what == "code" else store.get(key)
        if grant is None or grant.client_id != client.client_id or grant.expires < self._clock():
            raise OAuthError(400, "invalid_grant", f"Invalid {what}")
        if grant.code_challenge and not secrets.compare_digest(
            _s256(verifier).encode(), grant.code_challenge.encode()
        ):
            raise OAuthError(400, "invalid_grant", "PKCE verification failed")
        user = self.accounts.user(grant.username or "")
        if user is None:
            raise OAuthError(400, "invalid_grant", f"Invalid {what}")
        return user

    def grant(self, form: dict[str, str], client: Client) -> dict[str, Any]:
        grant = form.get("grant_type", "")
        if grant not in client.grants:
            raise OAuthError(400, "unauthorized_client", f"Unauthorized grant type: {grant or '(none)'}")
        if grant == "client_credentials":
            return self.token_response(client, None, grant)
        if grant == "password":
            user = self.authenticate_user(form.get("username", ""), form.get("password", ""))
        elif grant == "authorization_code":
            user = self._redeem(
                self._codes, form.get("code", ""), client, "code", form.get("code_verifier", "")
            )
        elif grant == "refresh_token":
            user = self._redeem(self._refresh, form.get("refresh_token", ""), client, "refresh token")
        else:
            raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
        return self.token_response(client, user, grant)


def _s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier``: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def _form(request: Request) -> dict[str, str]:
    try:
        body = await read_limited(request, MAX_FORM_BYTES)
    except BodyTooLargeError as exc:
        raise OAuthError(413, "invalid_request", str(exc)) from exc
    parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except ValueError as exc:
            raise OAuthError(401, "invalid_client", "Bad client credentials") from exc
        client_id, _, secret = decoded.partition(":")
        return urllib.parse.unquote(client_id), urllib.parse.unquote(secret)
    return form.get("client_id", ""), form.get("client_secret", "")


_LOGIN_FORM = """<!doctype html><html><head><title>Cloud Foundry (simulated) login</title></head><body>
<h1>Sign in (CF simulator)</h1><form method="post" action="/oauth/authorize">
<input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="redirect_uri" value="{redirect}">
<input type="hidden" name="state" value="{state}"><input type="hidden" name="response_type" value="code">
<input type="hidden" name="code_challenge" value="{challenge}">
<input type="hidden" name="code_challenge_method" value="{method}">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form></body></html>"""


def _check_redirect(uaa: UAA, client_id: str, redirect_uri: str) -> Client:
    client = uaa.accounts.client(client_id)
    if client is None or "authorization_code" not in client.grants:
        raise OAuthError(400, "invalid_client", "No such client or it may not use authorization_code")
    if redirect_uri not in client.redirect_uris:
        raise OAuthError(400, "invalid_request", "Invalid redirect_uri: not registered for this client")
    return client


def _check_challenge(challenge: str, method: str) -> None:
    if challenge and (method != "S256" or not 43 <= len(challenge) <= 128):
        raise OAuthError(
            400, "invalid_request", "Unsupported code_challenge_method or malformed code_challenge"
        )


def uaa_app(uaa: UAA, metrics: SimMetrics) -> FastAPI:
    """The UAA's FastAPI app over ``uaa``."""
    app = FastAPI(title="CF simulator UAA", docs_url=None, redoc_url=None, openapi_url=None)
    app.middleware("http")(metrics.middleware("uaa"))

    @app.exception_handler(OAuthError)
    async def oauth_error(_: Request, exc: OAuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Basic realm="UAA/client"'} if exc.status == 401 else None
        return JSONResponse(
            {"error": exc.error, "error_description": exc.description}, exc.status, headers=headers
        )

    @app.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        form = await _form(request)
        client = uaa.authenticate_client(*_client_credentials(request, form))
        body = uaa.grant(form, client)
        metrics.tokens.labels(form.get("grant_type", "")).inc()
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @app.get("/oauth/authorize")
    async def authorize_form(
        client_id: str = "",
        redirect_uri: str = "",
        state: str = "",
        response_type: str = "code",
        code_challenge: str = "",
        code_challenge_method: str = "",
    ) -> HTMLResponse:
        if response_type != "code":
            raise OAuthError(400, "unsupported_response_type", "Only response_type=code is supported")
        _check_redirect(uaa, client_id, redirect_uri)
        _check_challenge(code_challenge, code_challenge_method)
        page = _LOGIN_FORM.format(
            client_id=html.escape(client_id),
            redirect=html.escape(redirect_uri),
            state=html.escape(state),
            challenge=html.escape(code_challenge),
            method=html.escape(code_challenge_method),
        )
        return HTMLResponse(page)

    @app.post("/oauth/authorize")
    async def authorize(request: Request) -> Response:
        form = await _form(request)
        client = _check_redirect(uaa, form.get("client_id", ""), form.get("redirect_uri", ""))
        challenge = form.get("code_challenge", "")
        _check_challenge(challenge, form.get("code_challenge_method", ""))
        user = uaa.authenticate_user(form.get("username", ""), form.get("password", ""))
        query = {"code": uaa.new_code(client, user, challenge)}
        if form.get("state"):
            query["state"] = form["state"]
        redirect = form["redirect_uri"]
        sep = "&" if "?" in redirect else "?"
        return RedirectResponse(f"{redirect}{sep}{urllib.parse.urlencode(query)}", status_code=302)

    @app.get("/token_keys")
    async def token_keys() -> dict[str, Any]:
        return uaa.issuer.jwks()

    @app.get("/token_key")
    async def token_key() -> dict[str, Any]:
        key: dict[str, Any] = uaa.issuer.jwks()["keys"][0]
        return key

    @app.get("/userinfo")
    async def userinfo(request: Request) -> JSONResponse:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            raise OAuthError(401, "unauthorized", "Full authentication is required to access this resource")
        try:
            claims = uaa.issuer.verify(header[7:].strip())
        except InvalidTokenError as exc:
            raise OAuthError(401, "invalid_token", str(exc)) from exc
        if "user_id" not in claims:
            raise OAuthError(403, "insufficient_scope", "A user token is required")
        name = str(claims["user_name"])
        return JSONResponse(
            {
                "user_id": claims["user_id"],
                "sub": claims["user_id"],
                "user_name": name,
                "name": name,
                "email": claims.get("email"),
                "email_verified": True,
                "previous_logon_time": None,
            }
        )

    @app.get("/info")
    @app.get("/login")
    async def info(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "app": {"version": "77.0.0-cfsim"},
            "links": {
                "uaa": base,
                "login": base,
                "passwd": "/forgot_password",
                "register": "/create_account",
            },
            "zone_name": "uaa",
            "entityID": "cloudfoundry-saml-login",
            "commit_id": "cfsim",
            "idpDefinitions": {},
            "prompts": {"username": ["text", "Email"], "password": ["password", "Password"]},
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime()),
        }

    return app
