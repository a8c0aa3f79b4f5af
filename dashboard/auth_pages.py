"""The login page: ``GET/POST /login`` and ``POST /logout``.

The dashboard only renders and forwards: checking passwords and keeping sessions belong to the wiring, which
passes a :class:`LoginService`. The login form itself is protected against login CSRF with a double-submit
token (a random value in a short-lived ``SameSite=Strict`` cookie and in a hidden field, compared here); once
logged in, the session's synchronizer token protects every form (checked by the server's auth middleware).
``next`` only ever redirects to a path on this server.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dashboard.scoping import scope_label
from dashboard.security import SecureRoute
from platforms.tenancy import scope_of

__all__ = [
    "LOGIN_CSRF_COOKIE",
    "LoginRefusedError",
    "LoginService",
    "login_router",
    "read_form",
    "safe_next",
    "session_context",
]

LOGIN_CSRF_COOKIE = "paramedic_login_csrf"
_MAX_FORM_BYTES = 16_384
TEMPLATES_DIR = Path(__file__).parent / "templates"


class LoginRefusedError(Exception):
    """The service will not check a password now (too many failures, or too many checks at once): answer
    ``status`` (429 or 503) with ``Retry-After: retry_after_s`` and ``message`` on the form."""

    def __init__(self, status: int, retry_after_s: int, message: str) -> None:
        super().__init__(message)
        self.status, self.retry_after_s, self.message = status, retry_after_s, message


class LoginService(Protocol):
    """Implemented by the wiring (``paramedic.auth``). ``login`` runs slow work (a password hash) off the
    event loop itself; ``logout`` is quick and thread-safe."""

    @property
    def cookie_name(self) -> str: ...

    @property
    def session_max_s(self) -> float: ...

    async def login(self, name: str, password: str, client: str) -> str | None:
        """A new session id when ``password`` is ``name``'s, else None; ``client`` is the peer's address.
        Raises :class:`LoginRefusedError` when it will not check now."""
        ...

    def logout(self, session_id: str) -> None: ...


def session_context(request: Request) -> dict[str, Any]:
    """Template context of the logged-in user: ``user``, ``role``, ``scope`` (what the nav shows: the role,
    or the principal's spaces and roles, ``acme/prod · viewer``), ``foundation_wide`` (no tenant scope: the
    foundation overview is its), ``can_operate`` (operator or admin),
    ``operates`` (JSON for the pages' scripts: ``null`` for a foundation-wide principal, else the
    ``{org, space}`` its operator grants cover, ``space`` null for a whole org), ``can_admin`` (switching
    policy modes, deploying) and ``csrf_token`` (the session's; empty when a bearer token authenticated the
    request: it needs none)."""
    principal = getattr(request.state, "principal", None)
    session = getattr(request.state, "session", None)
    role = str(getattr(principal, "role", ""))
    scope = scope_of(request)
    operates = (
        None
        if scope.grants is None
        else [{"org": g.org, "space": g.space} for g in scope.grants if g.role == "operator"]
    )
    return {
        "user": str(getattr(principal, "name", "")),
        "role": role,
        "scope": scope_label(scope, role),
        "foundation_wide": scope.is_foundation,
        "can_operate": role in {"operator", "admin"},
        "operates": json.dumps(operates, separators=(",", ":")),
        "can_admin": role == "admin",
        "csrf_token": str(getattr(session, "csrf_token", "")),
    }


def safe_next(value: str, default: str) -> str:
    """``value`` when it is a path on this server (``/...``, not ``//host``), else ``default``."""
    if value.startswith("/") and not value.startswith(("//", "/\\")) and value.isprintable():
        return value
    return default


async def read_form(request: Request, max_bytes: int) -> dict[str, str] | None:
    """The url-encoded form of ``request``, read chunk by chunk; None (reading stopped) once over
    ``max_bytes``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return dict(parse_qsl(b"".join(chunks).decode("utf-8", "replace")))


def _scheme_is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def login_router(
    service: LoginService,
    *,
    base_path: str = "",
    secure: Callable[[Request], bool] = _scheme_is_https,
    sso_label: str | None = None,
) -> APIRouter:
    """``/login`` and ``/logout`` at the root; ``base_path`` is where the dashboard (and its static files)
    are mounted, the default landing page after login. ``secure`` tells whether cookies set in the answer
    to a request are ``Secure`` (default: when it came over https). ``sso_label``: the form also offers
    "Log in with <label>" (``/login/uaa``, :mod:`dashboard.sso_pages`)."""
    base_path = base_path.rstrip("/")
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(default=True))
    env.globals["url"] = lambda path="": base_path + "/" + path.lstrip("/")
    router = APIRouter(route_class=SecureRoute, include_in_schema=False)
    home = base_path + "/"

    def form(request: Request, next_url: str, error: str = "", name: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        html = env.get_template("login.html.j2").render(
            csrf_token=token, next=next_url, error=error, name=name, sso_label=sso_label
        )
        resp = HTMLResponse(html, status_code=status)
        resp.set_cookie(
            LOGIN_CSRF_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="strict",
            secure=secure(request),
        )  # fmt: skip
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @router.get("/login", name="login")
    def login_page(request: Request, next: str = "") -> Response:
        return form(request, safe_next(next, home))

    @router.post("/login", name="login_submit")
    async def login_submit(request: Request) -> Response:
        fields = await read_form(request, _MAX_FORM_BYTES)
        if fields is None:
            return form(request, home, "Request too large.", status=413)
        next_url = safe_next(fields.get("next", ""), home)
        name, password = fields.get("username", ""), fields.get("password", "")
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        given = fields.get("csrf_token", "")
        if not expected or not secrets.compare_digest(expected.encode(), given.encode()):
            return form(request, next_url, "The form expired; please log in again.", name, status=403)
        client = request.client.host if request.client is not None else ""
        try:
            session_id = await service.login(name, password, client) if name and password else None
        except LoginRefusedError as exc:
            resp = form(request, next_url, exc.message, name, status=exc.status)
            resp.headers["Retry-After"] = str(exc.retry_after_s)
            return resp
        if session_id is None:
            return form(request, next_url, "Invalid user name or password.", name, status=401)
        resp = RedirectResponse(next_url, status_code=303)
        resp.set_cookie(
            service.cookie_name, session_id, max_age=int(service.session_max_s), path="/", httponly=True,
            samesite="lax", secure=secure(request),
        )  # fmt: skip
        resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return resp

    @router.post("/logout", name="logout")
    def logout(request: Request) -> Response:
        session_id = request.cookies.get(service.cookie_name)
        if session_id:
            service.logout(session_id)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(
            service.cookie_name, path="/", httponly=True, samesite="lax", secure=secure(request)
        )
        return resp

    return router
