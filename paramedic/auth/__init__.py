"""Access control of the HTTP API and the web UI (server wiring): who may do what, and how much.

Roles ``viewer < operator < admin``, plus ``alert-sender`` for tokens that may only post alerts. API tokens
live in a 0600 JSON file (:class:`TokenStore`); UI users with argon2id password hashes in another
(:class:`UserStore`, ``users.json`` beside the token file), logged in through ``/login``
(:mod:`dashboard.auth_pages`) into in-memory server-side sessions (:class:`SessionStore`); or, when
``server.auth.uaa`` is set, through Cloud Foundry's UAA (``/login/uaa``, :class:`SsoLogin` over an
:class:`IdentityProvider`, :class:`UaaIdentityProvider`), with the scope of the user's CF roles.
One ASGI middleware (:class:`AuthMiddleware`) applies the policy of :mod:`paramedic.auth._policy` app-wide.
Contract with the routers: an authenticated request carries ``request.state.principal`` (a
:class:`Principal` with ``name`` and ``role``); anonymous reads and open paths carry none; a request the
session cookie authenticated also carries ``request.state.session`` (its ``csrf_token`` goes in forms and in
the ``X-CSRF-Token`` header of the pages' API calls).

Around it, outermost first (:func:`install_guards`): the Host header check (:mod:`._hosts`, DNS rebinding)
and the request body limits (:mod:`._body_limit`). Log-ins are throttled (:mod:`._throttle`,
:mod:`._login`). The session cookie is HttpOnly, ``SameSite=Lax`` (a link from an email to a page keeps the
session; every state-changing request needs the CSRF token anyway) and Secure per :mod:`._cookies`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

import prometheus_client
from argon2 import PasswordHasher
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter

from dashboard.auth_pages import login_router
from dashboard.sso_pages import sso_router
from paramedic.auth._body_limit import BodyLimitMiddleware, BodyTooLarge
from paramedic.auth._cf_roles import CfRole, cf_principal
from paramedic.auth._cookies import LOOPBACK_PROXIES, secure_cookie_rule
from paramedic.auth._hash_child import HashChildren, hasher_parameters
from paramedic.auth._hosts import TrustedHostsMiddleware, default_hosts
from paramedic.auth._idp import Identity, IdentityError, IdentityProvider
from paramedic.auth._login import SessionLogin, login_counter
from paramedic.auth._middleware import CSRF_FIELD, CSRF_HEADER, AuthMiddleware, credentials, decisions_counter
from paramedic.auth._policy import (
    LOGIN_PATH,
    OPEN_PATHS,
    READ_ONLY_POSTS,
    ROUTE_RULES,
    RouteRule,
    is_ui,
    requirement,
    route_table_markdown,
    rule_for,
)
from paramedic.auth._refusals import refusals_counter
from paramedic.auth._session import SESSION_COOKIE, Session, SessionStore
from paramedic.auth._sso import SsoLogin, sso_counter
from paramedic.auth._store import (
    RANKED_ROLES,
    ROLES,
    Principal,
    Role,
    TokenError,
    TokenInfo,
    TokenStore,
    role_allows,
)
from paramedic.auth._throttle import LoginThrottle
from paramedic.auth._uaa import UaaIdentityProvider, read_client_secret
from paramedic.auth._users import MIN_PASSWORD_LENGTH, UserError, UserInfo, UserStore
from paramedic.auth._verdicts import VerdictCache
from paramedic.config import AuthConfig, ServerConfig, UaaConfig

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_PATH",
    "MIN_PASSWORD_LENGTH",
    "OPEN_PATHS",
    "RANKED_ROLES",
    "READ_ONLY_POSTS",
    "ROLES",
    "ROUTE_RULES",
    "SESSION_COOKIE",
    "SESSION_IDLE_S",
    "SESSION_MAX_S",
    "AuthConfig",
    "AuthMiddleware",
    "BodyLimitMiddleware",
    "BodyTooLarge",
    "CfRole",
    "Identity",
    "IdentityError",
    "IdentityProvider",
    "LoginThrottle",
    "Principal",
    "Role",
    "RouteRule",
    "Session",
    "SessionLogin",
    "SessionStore",
    "SsoLogin",
    "TokenError",
    "TokenInfo",
    "TokenStore",
    "TrustedHostsMiddleware",
    "UaaConfig",
    "UaaIdentityProvider",
    "UserError",
    "UserInfo",
    "UserStore",
    "cf_principal",
    "close",
    "credentials",
    "install",
    "install_guards",
    "is_ui",
    "read_client_secret",
    "refusals_counter",
    "requirement",
    "role_allows",
    "route_table_markdown",
    "rule_for",
    "secure_cookie_rule",
    "tokens_path",
    "users_path",
]

SESSION_IDLE_S = 8 * 3600.0  # a session unused this long ends
SESSION_MAX_S = 24 * 3600.0  # and every session ends this long after login
SSO_MAX_S = 3600.0  # a single sign-on session without server.auth.uaa (an injected identity provider)


def tokens_path(config: AuthConfig, base_dir: Path) -> Path:
    """The token file of ``config``; relative paths resolve against ``base_dir`` (the config's folder)."""
    path = Path(config.tokens_file)
    return path if path.is_absolute() else base_dir / path


def users_path(config: AuthConfig, base_dir: Path) -> Path:
    """The UI user file: ``users.json`` in the token file's folder (same protection, same backups)."""
    return tokens_path(config, base_dir).with_name("users.json")


def install(  # noqa: PLR0913 - the wiring's entry point: the app, its config, and what tests inject
    app: FastAPI,
    config: AuthConfig,
    *,
    base_dir: Path,
    registry: CollectorRegistry = prometheus_client.REGISTRY,
    sessions: SessionStore | None = None,
    dashboard_path: str = "",
    refusals: Counter | None = None,
    trusted_proxies: Sequence[IPv4Network | IPv6Network] = LOOPBACK_PROXIES,
    identity_provider: IdentityProvider | None = None,
) -> TokenStore:
    """Apply the auth middleware to every route of ``app`` and mount ``/login`` and ``/logout``; returns the
    token store it reads. ``dashboard_path`` is where the dashboard is mounted (the page after login).
    ``refusals`` is ``paramedic_http_refusals_total`` when the caller made it (see :func:`install_guards`);
    ``trusted_proxies`` (``server.trusted_proxies``) may say a request came over https. With
    ``server.auth.uaa`` (or an ``identity_provider``, which then replaces the UAA one) also mounts the single
    sign-on routes ``/login/uaa`` and ``/login/uaa/callback``; :class:`ConfigError` when the client secret
    file is unreadable."""
    store = TokenStore(tokens_path(config, base_dir))
    throttle = config.login
    hashes = HashChildren(throttle.max_concurrent_hashes, params=hasher_parameters(PasswordHasher()))
    users = UserStore(users_path(config, base_dir), hasher=hashes)
    if config.anonymous_read:
        logging.getLogger(__name__).warning(
            "server.auth.anonymous_read is on: API reads without credentials are foundation-wide (every "
            "org and space); turn it off where tenants share the foundation"
        )
    sessions = sessions or SessionStore(idle_s=SESSION_IDLE_S, max_s=SESSION_MAX_S)
    app.add_middleware(
        AuthMiddleware,
        store=store,
        anonymous_read=config.anonymous_read,
        decisions=decisions_counter(registry),
        users=users,
        sessions=sessions,
        open_metrics=config.metrics == "open",
    )
    service = SessionLogin(
        users,
        sessions,
        throttle=LoginThrottle(
            free_failures=throttle.free_failures,
            initial_s=throttle.lockout_initial_s,
            max_s=throttle.lockout_max_s,
        ),
        max_concurrent_hashes=throttle.max_concurrent_hashes,
        hash_wait_s=throttle.hash_wait_s,
        attempts=login_counter(registry),
        refusals=refusals if refusals is not None else refusals_counter(registry),
        verdicts=VerdictCache(ttl_s=throttle.verdict_ttl_s, max_entries=throttle.verdict_max_entries),
        hash_thread_nice=0,  # the hashes themselves run in the children at nice 19, idle class first
    )
    secure = secure_cookie_rule(config.secure_cookies, trusted_proxies)
    sso_label, uaa, provider = None, config.uaa, identity_provider
    if provider is None and uaa is not None:
        provider = UaaIdentityProvider(uaa, read_client_secret(uaa, base_dir))
    if provider is not None:
        sso = SsoLogin(
            provider,
            sessions,
            max_session_s=uaa.max_session_s if uaa is not None else SSO_MAX_S,
            logins=sso_counter(registry),
        )
        redirect = uaa.redirect_url if uaa is not None else None
        app.include_router(sso_router(sso, base_path=dashboard_path, secure=secure, redirect_url=redirect))
        sso_label = provider.label
    app.include_router(login_router(service, base_path=dashboard_path, secure=secure, sso_label=sso_label))
    app.state.password_hashes = hashes  # for close(): the children outlive nothing they were made for
    return store


def close(app: FastAPI) -> None:
    """Stop what :func:`install` started for ``app``: kill and reap its password hash child processes. The
    server calls it at the end of the app's lifespan; without it each app left its children running."""
    hashes = getattr(app.state, "password_hashes", None)
    if isinstance(hashes, HashChildren):
        hashes.close()


def install_guards(app: FastAPI, config: ServerConfig, *, refusals: Counter) -> None:
    """Wrap ``app`` (call it after every other ``add_middleware``: these must run first) in the Host header
    check (``server.trusted_hosts``), then the body size limits (``server.limits``)."""
    limits = config.limits
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=limits.max_body_bytes,
        routes=limits.route_max_body_bytes,
        refusals=refusals,
    )
    hosts = config.trusted_hosts
    app.add_middleware(
        TrustedHostsMiddleware,
        hosts=default_hosts(config.listen_host) if hosts is None else hosts,
        allow_ip_literals=hosts is None,
        refusals=refusals,
    )
