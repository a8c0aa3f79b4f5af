"""The login page: ``GET/POST /login`` and ``POST /logout``.

The dashboard only renders and forwards: checking passwords and keeping sessions belong to the wiring, which
passes a :class:`LoginService`. The login form itself is protected against login CSRF with a double-submit
token (a random value in a short-lived ``SameSite=Strict`` cookie and in a hidden field, compared here); once
logged in, the session's synchronizer token protects every form (checked by the server's auth middleware).
``next`` only ever redirects to a path on this server.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dashboard.security import SecureRoute

__all__ = ["LOGIN_CSRF_COOKIE", "LoginService", "login_router", "safe_next", "session_context"]

LOGIN_CSRF_COOKIE = "paramedic_login_csrf"
_MAX_FORM_BYTES = 16_384
TEMPLATES_DIR = Path(__file__).parent / "templates"


class LoginService(Protocol):
    """Implemented by the wiring (``paramedic.auth``). ``login`` may be slow (a password hash): it is called
    from a worker thread; both methods are thread-safe."""

    @property
    def cookie_name(self) -> str: ...

    @property
    def session_max_s(self) -> float: ...

    def login(self, name: str, password: str) -> str | None:
        """A new session id when ``password`` is ``name``'s, else None."""
        ...

    def logout(self, session_id: str) -> None: ...


def session_context(request: Request) -> dict[str, Any]:
    """Template context of the logged-in user: ``user``, ``role``, ``can_operate`` (operator or admin) and
    ``csrf_token`` (the session's; empty when a bearer token authenticated the request: it needs none)."""
    principal = getattr(request.state, "principal", None)
    session = getattr(request.state, "session", None)
    role = str(getattr(principal, "role", ""))
    return {
        "user": str(getattr(principal, "name", "")),
        "role": role,
        "can_operate": role in {"operator", "admin"},
        "csrf_token": str(getattr(session, "csrf_token", "")),
    }


def safe_next(value: str, default: str) -> str:
    """``value`` when it is a path on this server (``/...``, not ``//host``), else ``default``."""
    if value.startswith("/") and not value.startswith(("//", "/\\")) and value.isprintable():
        return value
    return default


def login_router(service: LoginService, *, base_path: str = "") -> APIRouter:
    """``/login`` and ``/logout`` at the root; ``base_path`` is where the dashboard (and its static files)
    are mounted, the default landing page after login."""
    base_path = base_path.rstrip("/")
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(default=True))
    env.globals["url"] = lambda path="": base_path + "/" + path.lstrip("/")
    router = APIRouter(route_class=SecureRoute, include_in_schema=False)
    home = base_path + "/"

    def form(request: Request, next_url: str, error: str = "", name: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        html = env.get_template("login.html.j2").render(
            csrf_token=token, next=next_url, error=error, name=name
        )
        resp = HTMLResponse(html, status_code=status)
        resp.set_cookie(
            LOGIN_CSRF_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="strict",
            secure=request.url.scheme == "https",
        )  # fmt: skip
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @router.get("/login", name="login")
    def login_page(request: Request, next: str = "") -> Response:
        return form(request, safe_next(next, home))

    @router.post("/login", name="login_submit")
    async def login_submit(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > _MAX_FORM_BYTES:
            return form(request, home, "Request too large.", status=413)
        fields = dict(parse_qsl(raw.decode("utf-8", "replace")))
        next_url = safe_next(fields.get("next", ""), home)
        name, password = fields.get("username", ""), fields.get("password", "")
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        given = fields.get("csrf_token", "")
        if not expected or not secrets.compare_digest(expected.encode(), given.encode()):
            return form(request, next_url, "The form expired; please log in again.", name, status=403)
        session_id = await asyncio.to_thread(service.login, name, password) if name and password else None
        if session_id is None:
            return form(request, next_url, "Invalid user name or password.", name, status=401)
        resp = RedirectResponse(next_url, status_code=303)
        resp.set_cookie(
            service.cookie_name, session_id, max_age=int(service.session_max_s), path="/", httponly=True,
            samesite="lax", secure=request.url.scheme == "https",
        )  # fmt: skip
        resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return resp

    @router.post("/logout", name="logout")
    def logout(request: Request) -> Response:
        session_id = request.cookies.get(service.cookie_name)
        if session_id:
            service.logout(session_id)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(service.cookie_name, path="/", httponly=True, samesite="lax")
        return resp

    return router
