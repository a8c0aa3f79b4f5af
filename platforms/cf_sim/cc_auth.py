"""Who is calling the simulated CC, what they may see and change, and how often they may ask.

Bearer tokens are the simulated UAA's RS256 JWTs, verified here (signature, issuer, expiry): no token is a 401
``CF-NotAuthenticated`` (10002), a bad or expired one a 401 ``CF-InvalidAuthToken`` (1000). A caller with
``cloud_controller.admin`` reads and writes everything; ``cloud_controller.admin_read_only`` and
``cloud_controller.global_auditor`` read everything; everyone else sees the orgs and spaces of their roles
(an org manager every space of the org) and writes where they are ``space_developer``. Resources a caller
cannot see are 404, writes they may not make 403 ``CF-NotAuthorized`` (10003), as CF answers.

Rate limiting (:class:`RateLimiter`): a fixed window per user (``user_id``), client (``client_id``) or,
without a
valid token, per IP; every answer carries ``X-RateLimit-Limit/-Remaining/-Reset`` and an exhausted window is a
429 ``CF-RateLimitExceeded`` (10013) with ``Retry-After``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from platforms.cf_sim.accounts import ADMIN_SCOPES, READ_ALL_SCOPES, Accounts
from platforms.cf_sim.cc_model import Actor, CCError
from platforms.cf_sim.foundation import Foundation, guid_for
from platforms.cf_sim.tokens import InvalidTokenError, TokenIssuer

__all__ = ["Caller", "RateLimiter", "authenticate", "caller_for"]

MAX_TRACKED_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class Caller:
    actor: Actor
    username: str | None
    scopes: frozenset[str]
    readable_spaces: frozenset[str]
    writable_spaces: frozenset[str]
    readable_orgs: frozenset[str]

    @property
    def admin(self) -> bool:
        return bool(self.scopes & ADMIN_SCOPES)

    @property
    def reads_all(self) -> bool:
        return bool(self.scopes & READ_ALL_SCOPES)

    def sees_space(self, space_guid: str) -> bool:
        return self.reads_all or space_guid in self.readable_spaces

    def sees_org(self, org_guid: str) -> bool:
        return self.reads_all or org_guid in self.readable_orgs

    def check_write(self, space_guid: str) -> None:
        """Raises 404 when the space is invisible, 403 when visible but not writable."""
        if not self.sees_space(space_guid):
            raise CCError.not_found("Resource")
        if self.admin:
            return
        if "cloud_controller.write" not in self.scopes or space_guid not in self.writable_spaces:
            raise CCError.not_authorized()


def caller_for(claims: dict[str, object], accounts: Accounts, foundation: Foundation) -> Caller:
    scope = claims.get("scope")
    scopes = frozenset(str(s) for s in scope) if isinstance(scope, list) else frozenset()
    username = claims.get("user_name")
    if not isinstance(username, str):
        client = str(claims.get("client_id", ""))
        return Caller(Actor(client, client, "user"), None, scopes, frozenset(), frozenset(), frozenset())
    readable, writable, orgs = set(), set(), set()
    for role in accounts.roles_of(username):
        orgs.add(guid_for("org", role.org))
        if role.space is not None:
            readable.add(guid_for("space", role.org, role.space))
            if role.type == "space_developer":
                writable.add(guid_for("space", role.org, role.space))
        elif role.type == "organization_manager":
            readable.update(s.guid for s in foundation.spaces if s.org == role.org)
    actor = Actor(str(claims.get("user_id", "")), username, "user")
    return Caller(actor, username, scopes, frozenset(readable), frozenset(writable), frozenset(orgs))


def authenticate(header: str | None, issuer: TokenIssuer) -> dict[str, object]:
    """The verified claims of an ``Authorization: bearer ...`` header, or the CF 401."""
    if not header:
        raise CCError(401, 10002, "CF-NotAuthenticated", "Authentication error")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise CCError(401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token")
    try:
        claims = issuer.verify(token.strip())
    except InvalidTokenError as exc:
        raise CCError(401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token") from exc
    scope = claims.get("scope")
    if not isinstance(scope, list) or not any(str(s).startswith("cloud_controller.") for s in scope):
        raise CCError(
            403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action"
        )
    return claims


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    remaining: int
    window_end_s: float  # epoch seconds
    allowed: bool

    def headers(self, now: float) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.window_end_s)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.window_end_s - now)))
        return headers


class RateLimiter:
    """``limit`` requests per ``window_s`` per key (fixed windows). Thread-safe; keys are bounded."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.time) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("rate limit: limit must be >= 1 and window_s > 0")
        self.limit, self.window_s = limit, window_s
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window start, count)
        self._lock = threading.Lock()

    def take(self, key: str) -> Quota:
        now = self._clock()
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now - start >= self.window_s:
                start, count = now, 0
            if len(self._windows) >= MAX_TRACKED_KEYS and key not in self._windows:
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < self.window_s}
            allowed = count < self.limit
            if allowed:
                count += 1
            self._windows[key] = (start, count)
        return Quota(self.limit, self.limit - count, start + self.window_s, allowed)
