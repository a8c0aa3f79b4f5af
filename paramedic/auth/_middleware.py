"""ASGI middleware applying :func:`paramedic.auth._policy.requirement` to every request of the app.

Credentials, first match wins:

1. ``Authorization: Bearer <token>``, or HTTP Basic with the token as the password (any user name), for
   tools that only do basic auth. No CSRF check for bearer tokens: a browser never adds that header by itself.
   A browser does resend Basic credentials it once prompted for, to any page's request, so a state-changing
   request with Basic credentials that looks like a browser's (it carries a ``Cookie`` header, an ``Origin``
   of another host, ``Sec-Fetch-Site`` other than ``same-origin``/``none``, or ``Sec-Fetch-Mode: navigate``)
   is refused with 403 (``csrf_rejected``): browsers log in, tools send no such headers.
2. The web UI's session cookie (:data:`SESSION_COOKIE`): the user's role and scope as the user file says
   now, or, for a single sign-on session, the principal the session holds (see :mod:`._session`). Every
   state-changing request (not GET/HEAD/OPTIONS) the cookie authenticates must carry the session's CSRF
   token, in an ``X-CSRF-Token`` header (the dashboard's JS) or a ``csrf_token`` form field (HTML forms,
   ``application/x-www-form-urlencoded``; the body is read here and replayed to the app); else 403.
   ``request.state.session`` is then the :class:`Session` (pages render its ``csrf_token``).

On success ``request.state.principal`` is a :class:`Principal`. Without credentials, a web UI path
(:func:`is_ui`) redirects to ``/login?next=...`` (303); an API path is served anonymously when reads are
allowed, else answers JSON 401 with ``WWW-Authenticate: Bearer``; 403 names the role needed and the role held.
Each decision is counted in ``paramedic_auth_decisions_total{result}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl, quote

import prometheus_client
from prometheus_client import CollectorRegistry, Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paramedic.auth._policy import LOGIN_PATH, Requirement, is_ui, requirement
from paramedic.auth._session import SESSION_COOKIE, Session, SessionStore
from paramedic.auth._store import ROLES, Principal, Role, TokenError, TokenStore, role_allows
from paramedic.auth._users import UserStore

__all__ = ["AuthMiddleware", "credentials", "decisions_counter"]

RESULTS = (
    "open",
    "anonymous",
    "allowed",
    "signed_link",
    "missing",
    "invalid",
    "forbidden",
    "error",
    "session",
    "login_redirect",
    "csrf_rejected",
)
CSRF_HEADER = b"x-csrf-token"
CSRF_FIELD = "csrf_token"
MAX_FORM_BYTES = 1 << 20
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
        users: UserStore | None = None,
        sessions: SessionStore | None = None,
        open_metrics: bool = True,
    ) -> None:
        """``open_metrics`` False (``server.auth.metrics: viewer``): ``GET /metrics`` needs a viewer token
        or session, not open (the handler answers a scoped principal 404)."""
        self.app = app
        self.store = store
        self.users = users
        self.sessions = sessions
        self.anonymous_read = anonymous_read
        self.decisions = decisions
        self.open_metrics = open_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        need = requirement(method, path, scope.get("query_string", b"").decode("latin-1"))
        if path == "/metrics" and not self.open_metrics:
            need = "viewer"
        if need in {"open", "signed_link"}:
            self.decisions.labels(need).inc()
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
        if header is None:
            await self._without_token(scope, receive, send, need)
            return
        await self._with_token(scope, receive, send, need, header)

    async def _without_token(self, scope: Scope, receive: Receive, send: Send, need: Requirement) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        found = self._session(scope)
        if found is not None:
            session, principal = found
            if method not in SAFE_METHODS:
                receive, ok = await _csrf_checked(scope, receive, session.csrf_token)
                if not ok:
                    self.decisions.labels("csrf_rejected").inc()
                    msg = f"{method} {path}: missing or wrong CSRF token (reload the page and try again)"
                    await _reply(send, 403, msg, {})
                    return
            if not await self._allowed(send, principal, need, scope):
                return
            self.decisions.labels("session").inc()
            state = scope.setdefault("state", {})
            state["principal"], state["session"] = principal, session
            await self.app(scope, receive, send)
            return
        if is_ui(path):
            self.decisions.labels("login_redirect").inc()
            query = scope.get("query_string", b"").decode("latin-1")
            target = path + (f"?{query}" if query else "")
            location = f"{LOGIN_PATH}?next={quote(target, safe='')}"
            headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0")]
            if _cookie(scope, SESSION_COOKIE) is not None:  # expired or unknown: drop it
                headers.append((b"set-cookie", f"{SESSION_COOKIE}=; Max-Age=0; Path=/".encode()))
            await send({"type": "http.response.start", "status": 303, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if need == "read" and self.anonymous_read:
            self.decisions.labels("anonymous").inc()
            await self.app(scope, receive, send)
            return
        self.decisions.labels("missing").inc()
        msg = "authentication required: send Authorization: Bearer <token> (see `paramedic token create`)"
        await _reply(send, 401, msg, {"WWW-Authenticate": 'Bearer realm="paramedic"'})

    async def _with_token(
        self, scope: Scope, receive: Receive, send: Send, need: Requirement, header: str
    ) -> None:
        token = credentials(header)
        if (
            token is not None
            and header.strip().lower().startswith("basic")
            and need not in {"read", "open"}
            and _from_browser(scope)
        ):
            self.decisions.labels("csrf_rejected").inc()
            msg = (
                f"{scope['method']} {scope['path']}: HTTP Basic credentials from a browser cannot change "
                "state (log in instead, or send Authorization: Bearer <token>)"
            )
            await _reply(send, 403, msg, {})
            return
        if token is None:
            self.decisions.labels("invalid").inc()
            msg = "unsupported Authorization header: use Bearer <token> or Basic (token as password)"
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
        if not await self._allowed(send, principal, need, scope, who="token"):
            return
        self.decisions.labels("allowed").inc()
        state = scope.setdefault("state", {})
        state["principal"] = principal
        await self.app(scope, receive, send)

    async def _allowed(
        self, send: Send, principal: Principal, need: Requirement, scope: Scope, *, who: str = "user"
    ) -> bool:
        method: str = scope["method"]
        path: str = scope["path"]
        needed: Role = need if need in ROLES else "viewer"  # "read" needs a viewer
        if role_allows(principal.role, needed):
            return True
        self.decisions.labels("forbidden").inc()
        msg = f"{method} {path} needs role {needed}; {who} {principal.name!r} has role {principal.role}"
        await _reply(send, 403, msg, {}, needed=needed, held=principal.role)
        return False

    def _session(self, scope: Scope) -> tuple[Session, Principal] | None:
        """The live session of the request's cookie and its user's principal now, or None."""
        if self.sessions is None or self.users is None:
            return None
        session_id = _cookie(scope, SESSION_COOKIE)
        session = self.sessions.get(session_id) if session_id else None
        if session is None:
            return None
        if session.principal is not None:  # single sign-on: the provider's roles at log-in
            return session, session.principal
        principal = self.users.get(session.user)
        if principal is None:  # the user was deleted: end the session
            self.sessions.delete_user(session.user)
            return None
        if session_id and session.credential != self.users.credential(session.user):  # replaced since
            self.sessions.delete(session_id)  # this log-in (a new password or new grants): log in again
            return None
        return session, principal


def _from_browser(scope: Scope) -> bool:
    """Whether the request looks sent by a browser on behalf of a page (see the module docstring)."""
    headers = {k.decode("latin-1"): v.decode("latin-1").strip().lower() for k, v in scope["headers"]}
    if "cookie" in headers or headers.get("sec-fetch-mode") == "navigate":
        return True
    if headers.get("sec-fetch-site", "none") not in {"same-origin", "none"}:
        return True
    origin = headers.get("origin")
    return origin is not None and origin.partition("://")[2] != headers.get("host", "")


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope["headers"]:
        if key != b"cookie":
            continue
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(value.decode("latin-1"))
        except CookieError:
            continue
        if name in jar:
            return jar[name].value
    return None


async def _csrf_checked(scope: Scope, receive: Receive, expected: str) -> tuple[Receive, bool]:
    """Whether the request carries ``expected`` as its CSRF token (header, or form field), and the receive
    callable the app must use (the form body, read here, replayed)."""
    headers = dict(scope["headers"])
    given = headers.get(CSRF_HEADER)
    if given is not None:
        return receive, secrets.compare_digest(given, expected.encode())
    if not headers.get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded"):
        return receive, False
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return receive, False
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return receive, False
        chunks.append(chunk)
        more = bool(message.get("more_body", False))
    body = b"".join(chunks)
    form = dict(parse_qsl(body.decode("utf-8", "replace")))
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay, secrets.compare_digest(form.get(CSRF_FIELD, "").encode(), expected.encode())


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
