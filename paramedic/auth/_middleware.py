"""ASGI middleware applying :func:`paramedic.auth._policy.requirement` to every request of the app.

Credentials: ``Authorization: Bearer <token>``, or HTTP Basic with the token as the password (any user name),
for tools that only do basic auth. On success ``request.state.principal`` is a :class:`Principal`.
Failures answer JSON: 401 with ``WWW-Authenticate: Bearer`` for a missing or unknown token, 403 naming the
role needed and the role held. Each decision is counted in ``paramedic_auth_decisions_total{result}``.
"""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import parse_qsl

import prometheus_client
from prometheus_client import CollectorRegistry, Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from paramedic.auth._policy import requirement
from paramedic.auth._store import ROLES, Role, TokenError, TokenStore, role_allows

__all__ = ["AuthMiddleware", "credentials", "decisions_counter"]

RESULTS = ("open", "anonymous", "allowed", "signed_link", "missing", "invalid", "forbidden", "error")


def decisions_counter(registry: CollectorRegistry = prometheus_client.REGISTRY) -> Counter:
    """``paramedic_auth_decisions_total{result}``, every result pre-created at 0."""
    counter = Counter(
        "paramedic_auth_decisions",
        "HTTP API authorisation decisions by result.",
        ["result"],
        registry=registry,
    )
    for result in RESULTS:
        counter.labels(result)
    return counter


def credentials(authorization: str) -> str | None:
    """The token in an Authorization header value (Bearer, or Basic's password), or None."""
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, sep, password = decoded.partition(":")
        return password or None if sep else None
    return None


class AuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        store: TokenStore,
        anonymous_read: bool,
        decisions: Counter,
    ) -> None:
        self.app = app
        self.store = store
        self.anonymous_read = anonymous_read
        self.decisions = decisions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        need = requirement(method, path, query)
        if need in {"open", "signed_link"}:
            self.decisions.labels(need).inc()
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
        if header is None and need == "read" and self.anonymous_read:
            self.decisions.labels("anonymous").inc()
            await self.app(scope, receive, send)
            return
        token = credentials(header) if header is not None else None
        if token is None:
            what = "missing" if header is None else "invalid"
            self.decisions.labels(what).inc()
            msg = (
                "authentication required: send Authorization: Bearer <token> (see `paramedic token create`)"
                if header is None
                else "unsupported Authorization header: use Bearer <token> or Basic (token as password)"
            )
            await _reply(send, 401, msg, {"WWW-Authenticate": 'Bearer realm="paramedic"'})
            return
        try:
            principal = self.store.authenticate(token)
        except TokenError as exc:
            self.decisions.labels("error").inc()
            await _reply(send, 500, f"token store unreadable: {exc}", {})
            return
        if principal is None:
            self.decisions.labels("invalid").inc()
            await _reply(
                send,
                401,
                "invalid or revoked token",
                {"WWW-Authenticate": 'Bearer realm="paramedic", error="invalid_token"'},
            )
            return
        needed: Role = need if need in ROLES else "operator"
        needed = "viewer" if need == "read" else needed
        if not role_allows(principal.role, needed):
            self.decisions.labels("forbidden").inc()
            msg = f"{method} {path} needs role {needed}; token {principal.name!r} has role {principal.role}"
            await _reply(send, 403, msg, {}, needed=needed, held=principal.role)
            return
        self.decisions.labels("allowed").inc()
        state = scope.setdefault("state", {})
        state["principal"] = principal
        await self.app(scope, receive, send)


async def _reply(
    send: Send, status: int, error: str, headers: dict[str, str], *, needed: str = "", held: str = ""
) -> None:
    kind = {401: "unauthorized", 403: "forbidden"}.get(status, "internal")
    body: dict[str, str] = {"status": "error", "errorType": kind}
    body["error"] = error
    if needed:
        body["required_role"], body["role"] = needed, held
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})
