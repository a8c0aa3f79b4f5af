"""Authentication and authorisation of the HTTP API and the web UI (server wiring).

Roles ``viewer < operator < admin``; API tokens in a 0600 JSON file (:class:`TokenStore`); UI users with
argon2id password hashes in another (:class:`UserStore`, ``users.json`` beside the token file), logged in
through ``/login`` (:mod:`dashboard.auth_pages`) into in-memory server-side sessions (:class:`SessionStore`).
One ASGI middleware (:class:`AuthMiddleware`) applies the policy of :mod:`paramedic.auth._policy` app-wide.
Contract with the routers: an authenticated request carries ``request.state.principal`` (a
:class:`Principal` with ``name`` and ``role``); anonymous reads and open paths carry none; a request the
session cookie authenticated also carries ``request.state.session`` (its ``csrf_token`` goes in forms and in
the ``X-CSRF-Token`` header of the pages' API calls).
"""

from __future__ import annotations

from pathlib import Path

import prometheus_client
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from dashboard.auth_pages import login_router
from paramedic.auth._middleware import CSRF_FIELD, CSRF_HEADER, AuthMiddleware, credentials, decisions_counter
from paramedic.auth._policy import LOGIN_PATH, OPEN_PATHS, READ_ONLY_POSTS, is_ui, requirement
from paramedic.auth._session import SESSION_COOKIE, Session, SessionStore
from paramedic.auth._store import ROLES, Principal, Role, TokenError, TokenInfo, TokenStore, role_allows
from paramedic.auth._users import MIN_PASSWORD_LENGTH, UserError, UserInfo, UserStore
from paramedic.config import AuthConfig

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_PATH",
    "MIN_PASSWORD_LENGTH",
    "OPEN_PATHS",
    "READ_ONLY_POSTS",
    "ROLES",
    "SESSION_COOKIE",
    "SESSION_IDLE_S",
    "SESSION_MAX_S",
    "AuthConfig",
    "AuthMiddleware",
    "Principal",
    "Role",
    "Session",
    "SessionLogin",
    "SessionStore",
    "TokenError",
    "TokenInfo",
    "TokenStore",
    "UserError",
    "UserInfo",
    "UserStore",
    "credentials",
    "install",
    "is_ui",
    "requirement",
    "role_allows",
    "tokens_path",
    "users_path",
]

SESSION_IDLE_S = 8 * 3600.0  # a session unused this long ends
SESSION_MAX_S = 24 * 3600.0  # and every session ends this long after login


def tokens_path(config: AuthConfig, base_dir: Path) -> Path:
    """The token file of ``config``; relative paths resolve against ``base_dir`` (the config's folder)."""
    path = Path(config.tokens_file)
    return path if path.is_absolute() else base_dir / path


def users_path(config: AuthConfig, base_dir: Path) -> Path:
    """The UI user file: ``users.json`` in the token file's folder (same protection, same backups)."""
    return tokens_path(config, base_dir).with_name("users.json")


class SessionLogin:
    """:class:`dashboard.auth_pages.LoginService` over the user file and the session store."""

    cookie_name = SESSION_COOKIE

    def __init__(self, users: UserStore, sessions: SessionStore) -> None:
        self.users, self.sessions = users, sessions

    @property
    def session_max_s(self) -> float:
        return self.sessions.max_s

    def login(self, name: str, password: str) -> str | None:
        principal = self.users.authenticate(name, password)
        if principal is None:
            return None
        session_id, _ = self.sessions.create(principal.name)
        return session_id

    def logout(self, session_id: str) -> None:
        self.sessions.delete(session_id)


def install(
    app: FastAPI,
    config: AuthConfig,
    *,
    base_dir: Path,
    registry: CollectorRegistry = prometheus_client.REGISTRY,
    sessions: SessionStore | None = None,
    dashboard_path: str = "",
) -> TokenStore:
    """Apply the auth middleware to every route of ``app`` and mount ``/login`` and ``/logout``; returns the
    token store it reads. ``dashboard_path`` is where the dashboard is mounted (the page after login)."""
    store = TokenStore(tokens_path(config, base_dir))
    users = UserStore(users_path(config, base_dir))
    sessions = sessions or SessionStore(idle_s=SESSION_IDLE_S, max_s=SESSION_MAX_S)
    app.add_middleware(
        AuthMiddleware,
        store=store,
        anonymous_read=config.anonymous_read,
        decisions=decisions_counter(registry),
        users=users,
        sessions=sessions,
    )
    app.include_router(login_router(SessionLogin(users, sessions), base_path=dashboard_path))
    return store
