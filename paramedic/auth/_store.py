"""The token store: one JSON file (mode 0600) of named tokens, each with a role and the sha256 of the token.

The token itself is shown once, by :meth:`TokenStore.create`, and never stored. The file is re-read when it
changes on disk (mtime/size), so ``paramedic token create`` / ``revoke`` take effect on a running server
without a restart. Reads and writes are thread-safe within one process; writes are atomic (temp + rename).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from paramedic.auth._files import write_private
from platforms.tenancy import FOUNDATION, Grant, Scope, TenancyError, normalized

__all__ = [
    "RANKED_ROLES",
    "ROLES",
    "Principal",
    "Role",
    "TokenError",
    "TokenInfo",
    "TokenStore",
    "check_scoped_role",
    "grants_from_json",
    "grants_json",
    "role_allows",
]

Role = Literal["viewer", "operator", "admin", "alert-sender", "metrics-writer"]
ROLES: tuple[Role, ...] = get_args(Role)
# Ordered: each can do everything the ones before it can. ``alert-sender`` (the token Prometheus posts alerts
# with) stands outside the order: it may post alerts and nothing else; operator and admin may post them too.
# ``metrics-writer`` (the token Prometheus, vmagent or an OpenTelemetry exporter pushes with) likewise: it may
# push samples and log lines (remote write, OTLP) and nothing else; operator and admin may push too.
_NARROW: dict[Role, frozenset[Role]] = {
    "alert-sender": frozenset({"alert-sender", "operator", "admin"}),
    "metrics-writer": frozenset({"metrics-writer", "operator", "admin"}),
}
RANKED_ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")


def role_allows(held: Role, needed: Role) -> bool:
    if needed in _NARROW:
        return held in _NARROW[needed]
    if held in _NARROW or needed not in RANKED_ROLES:
        return False
    return RANKED_ROLES.index(held) >= RANKED_ROLES.index(needed)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request. The auth middleware sets ``request.state.principal`` to one of these (or leaves
    it unset for anonymous reads and open paths); routers read ``.name`` and ``.role`` only."""

    name: str
    role: Role
    scope: Scope = FOUNDATION

    @classmethod
    def scoped(cls, name: str, role: Role, grants: Sequence[Grant]) -> Principal:
        """A principal of ``role`` foundation-wide (no ``grants``), else scoped to ``grants``: its ``role``
        (what the route table checks) is then the highest of its grants' roles, and every handler checks
        the org/space of what it reads or changes against ``scope``."""
        if not grants:
            return cls(name, role)
        top: Role = "operator" if any(g.role == "operator" for g in grants) else "viewer"
        return cls(name, top, Scope.of(list(grants)))


def grants_from_json(raw: object) -> tuple[Grant, ...]:
    """The ``scopes`` list of a token or user record (absent: foundation-wide)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise TypeError("scopes must be a list")
    try:
        return normalized(Grant.from_json(g) for g in raw)
    except (TenancyError, KeyError) as exc:
        raise TypeError(f"bad scope: {exc}") from exc


def grants_json(grants: Sequence[Grant]) -> list[dict[str, str]]:
    return [g.to_json() for g in grants]


def check_scoped_role(role: Role, grants: Sequence[Grant]) -> None:
    """Scoped principals are viewers or operators of their spaces (admin, alert-sender, metrics-writer:
    foundation-wide; a space's own pushes come with an operator token of the space)."""
    if grants and role not in {"viewer", "operator"}:
        raise TokenError(
            f"role {role!r} is foundation-wide: a scoped (--space/--org) role is viewer or operator"
        )


@dataclass(frozen=True, slots=True)
class TokenInfo:
    name: str
    role: Role
    sha256: str
    created_at: str  # RFC 3339
    grants: tuple[Grant, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            "sha256": self.sha256,
            "created_at": self.created_at,
        }
        if self.grants:
            out["scopes"] = grants_json(self.grants)
        return out


class TokenError(Exception):
    """The token file is unreadable or malformed, or a create/revoke request is invalid."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._by_digest: dict[str, TokenInfo] = {}
        self._tokens: list[TokenInfo] = []

    # -- reading --------------------------------------------------------------------------------------------

    def _load(self) -> None:
        """Re-read the file when it changed; a missing file is an empty store."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._tokens, self._by_digest = None, [], {}
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            tokens = [
                TokenInfo(
                    str(t["name"]),
                    self._role(t["role"]),
                    str(t["sha256"]),
                    str(t["created_at"]),
                    grants_from_json(t.get("scopes")),
                )
                for t in raw["tokens"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TokenError(f"{self.path}: not a Paramedic token file ({exc})") from exc
        self._tokens, self._stamp = tokens, stamp
        self._by_digest = {t.sha256: t for t in tokens}

    @staticmethod
    def _role(value: object) -> Role:
        if value not in ROLES:
            raise TokenError(f"unknown role {value!r}: use one of {', '.join(ROLES)}")
        return value

    def tokens(self) -> list[TokenInfo]:
        with self._lock:
            self._load()
            return list(self._tokens)

    def authenticate(self, token: str) -> Principal | None:
        """The principal of ``token``, or None when no stored token has its sha256."""
        digest = _digest(token)
        with self._lock:
            self._load()
            info = self._by_digest.get(digest)
        if info is None or not secrets.compare_digest(info.sha256, digest):
            return None
        return Principal.scoped(info.name, info.role, info.grants)

    # -- writing --------------------------------------------------------------------------------------------

    def create(
        self,
        name: str,
        role: str,
        *,
        replace: bool = False,
        now: datetime | None = None,
        grants: Sequence[Grant] = (),
    ) -> str:
        """Store a new token and return it (the only time it is visible). A taken ``name`` is an error
        unless ``replace``, which revokes the old token of that name. ``grants``: scope the token to these
        orgs/spaces (each grant carries the role; ``role`` must then be viewer or operator)."""
        checked = self._role(role)
        check_scoped_role(checked, grants)
        if not name or not name.isprintable() or len(name) > 100:
            raise TokenError("a token name must be 1-100 printable characters")
        token = secrets.token_urlsafe(32)
        created = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
        with self._lock:
            self._load()
            if any(t.name == name for t in self._tokens) and not replace:
                raise TokenError(f"a token named {name!r} exists: revoke it first or pick another name")
            kept = [t for t in self._tokens if t.name != name]
            scoped = normalized(grants)
            self._write([*kept, TokenInfo(name, checked, _digest(token), created, scoped)])
        return token

    def revoke(self, name: str) -> bool:
        """Remove the token called ``name``; False when there is none."""
        with self._lock:
            self._load()
            kept = [t for t in self._tokens if t.name != name]
            if len(kept) == len(self._tokens):
                return False
            self._write(kept)
        return True

    def _write(self, tokens: list[TokenInfo]) -> None:
        write_private(self.path, json.dumps({"tokens": [t.to_json() for t in tokens]}, indent=2) + "\n")
        self._stamp = None  # re-read on next use (picks up the new mtime)
        self._load()
