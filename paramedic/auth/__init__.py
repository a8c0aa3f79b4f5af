"""Authentication and authorisation of the HTTP API (server wiring).

Roles ``viewer < operator < admin``; tokens in a 0600 JSON file (:class:`TokenStore`); one ASGI middleware
(:class:`AuthMiddleware`) applies the policy of :mod:`paramedic.auth._policy` app-wide. Contract with the
routers: an authenticated request carries ``request.state.principal`` (a :class:`Principal` with ``name`` and
``role``); anonymous reads and open paths carry none.
"""

from __future__ import annotations

from pathlib import Path

import prometheus_client
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from paramedic.auth._middleware import AuthMiddleware, credentials, decisions_counter
from paramedic.auth._policy import OPEN_PATHS, READ_ONLY_POSTS, requirement
from paramedic.auth._store import ROLES, Principal, Role, TokenError, TokenInfo, TokenStore, role_allows
from paramedic.config import AuthConfig

__all__ = [
    "OPEN_PATHS",
    "READ_ONLY_POSTS",
    "ROLES",
    "AuthMiddleware",
    "Principal",
    "Role",
    "TokenError",
    "TokenInfo",
    "TokenStore",
    "credentials",
    "install",
    "requirement",
    "role_allows",
    "tokens_path",
]


def tokens_path(config: AuthConfig, base_dir: Path) -> Path:
    """The token file of ``config``; relative paths resolve against ``base_dir`` (the config's folder)."""
    path = Path(config.tokens_file)
    return path if path.is_absolute() else base_dir / path


def install(
    app: FastAPI,
    config: AuthConfig,
    *,
    base_dir: Path,
    registry: CollectorRegistry = prometheus_client.REGISTRY,
) -> TokenStore:
    """Apply the auth middleware to every route of ``app``; returns the token store it reads."""
    store = TokenStore(tokens_path(config, base_dir))
    app.add_middleware(
        AuthMiddleware,
        store=store,
        anonymous_read=config.anonymous_read,
        decisions=decisions_counter(registry),
    )
    return store
