"""Single sign-on pages: ``GET /login/uaa`` (off to the identity provider) and ``GET /login/uaa/callback``.

The dashboard only forwards: state, PKCE, tokens, roles and sessions belong to the wiring, which passes an
:class:`SsoService`. ``/login/uaa`` sets a short-lived HttpOnly cookie binding the log-in to this browser
(``SameSite=Lax``: it must come back with the provider's top-level redirect) and redirects; the callback
reads ``state``, ``code`` or ``error`` (each at most :data:`MAX_PARAM_CHARS`), lets the service finish, and
sets the session cookie. A refusal is an HTML page with the service's message and a link back to ``/login``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dashboard.auth_pages import safe_next
from dashboard.security import SecureRoute

__all__ = [
    "MAX_PARAM_CHARS",
    "SSO_BINDING_COOKIE",
    "SSO_CALLBACK_PATH",
    "SSO_PATH",
    "SsoRefusedError",
    "SsoService",
    "SsoSession",
    "sso_router",
]

SSO_PATH, SSO_CALLBACK_PATH = "/login/uaa", "/login/uaa/callback"
SSO_BINDING_COOKIE = "paramedic_sso"
MAX_PARAM_CHARS = 2048
BINDING_MAX_AGE_S = 600
TEMPLATES_DIR = Path(__file__).parent / "templates"


class SsoRefusedError(Exception):
    """No session: answer ``status`` with ``message`` (and ``Retry-After`` when ``retry_after_s``)."""

    def __init__(self, status: int, message: str, *, retry_after_s: int = 0) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after_s = status, message, retry_after_s


@dataclass(frozen=True, slots=True)
class SsoSession:
    """A log-in that succeeded: the session id for the cookie, where to go, how long the session lives."""

    session_id: str
    next_url: str
    max_age_s: float


class SsoService(Protocol):
    """Implemented by the wiring (``paramedic.auth``)."""

    @property
    def cookie_name(self) -> str: ...

    @property
    def label(self) -> str: ...

    def begin(self, next_url: str, redirect_uri: str) -> tuple[str, str]:
        """(the provider's URL to redirect to, the value of the binding cookie)."""
        ...

    async def finish(self, state: str, code: str, error: str, binding: str) -> SsoSession:
        """The new session; raises :class:`SsoRefusedError`."""
        ...


def sso_router(
    service: SsoService,
    *,
    base_path: str = "",
    secure: Callable[[Request], bool],
    redirect_url: str | None = None,
) -> APIRouter:
    """The two SSO routes. ``redirect_url``: the callback's absolute URL as registered with the provider
    (default: this request's scheme and host + :data:`SSO_CALLBACK_PATH`)."""
    base_path = base_path.rstrip("/")
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(default=True))
    env.globals["url"] = lambda path="": base_path + "/" + path.lstrip("/")
    router = APIRouter(route_class=SecureRoute, include_in_schema=False)
    home = base_path + "/"

    def refused(exc: SsoRefusedError) -> Response:
        html = env.get_template("login_refused.html.j2").render(message=exc.message, label=service.label)
        resp = HTMLResponse(html, status_code=exc.status)
        resp.headers["Cache-Control"] = "no-store"
        if exc.retry_after_s:
            resp.headers["Retry-After"] = str(exc.retry_after_s)
        resp.delete_cookie(SSO_BINDING_COOKIE, path=SSO_PATH)
        return resp

    @router.get(SSO_PATH, name="login_sso")
    def begin(request: Request, next: str = "") -> Response:
        callback = redirect_url or str(request.base_url).rstrip("/") + SSO_CALLBACK_PATH
        target, binding = service.begin(safe_next(next[:MAX_PARAM_CHARS], home), callback)
        resp = RedirectResponse(target, status_code=303)
        resp.set_cookie(
            SSO_BINDING_COOKIE, binding, max_age=BINDING_MAX_AGE_S, path=SSO_PATH, httponly=True,
            samesite="lax", secure=secure(request),
        )  # fmt: skip
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @router.get(SSO_CALLBACK_PATH, name="login_sso_callback")
    async def callback(request: Request) -> Response:
        params = request.query_params
        state, code, error = (params.get(k, "") for k in ("state", "code", "error"))
        if any(len(v) > MAX_PARAM_CHARS for v in (state, code, error)) or not state:
            return refused(SsoRefusedError(400, "Malformed log-in answer: log in again."))
        binding = request.cookies.get(SSO_BINDING_COOKIE, "")
        try:
            done = await service.finish(state, code, error, binding)
        except SsoRefusedError as exc:
            return refused(exc)
        resp = RedirectResponse(done.next_url, status_code=303)
        resp.set_cookie(
            service.cookie_name, done.session_id, max_age=int(done.max_age_s), path="/", httponly=True,
            samesite="lax", secure=secure(request),
        )  # fmt: skip
        resp.delete_cookie(SSO_BINDING_COOKIE, path=SSO_PATH)
        return resp

    return router
