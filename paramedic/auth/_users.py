"""The user store of the web UI: one JSON file (mode 0600) of users, each with a role and an argon2id hash.

Passwords are hashed with argon2-cffi's :class:`~argon2.PasswordHasher` (argon2id, its RFC 9106 low-memory
defaults) and never stored. Like the token file, the user file is re-read when it changes on disk, so
``paramedic user create`` / ``delete`` take effect on a running server; the session middleware looks the
user up on every request, so a deleted user's sessions stop working at once and a role change applies at
once. Thread-safe within one process; writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from paramedic.auth._files import write_private
from paramedic.auth._hash_child import HashUnavailableError
from paramedic.auth._store import (
    RANKED_ROLES,
    Principal,
    Role,
    TokenError,
    check_scoped_role,
    grants_from_json,
    grants_json,
)
from platforms.tenancy import Grant, normalized

__all__ = ["MIN_PASSWORD_LENGTH", "PasswordHashing", "UserError", "UserInfo", "UserStore"]

MIN_PASSWORD_LENGTH = 12
_HASHER = PasswordHasher()
_DUMMY_PASSWORD = "paramedic-no-such-user"  # noqa: S105 - hashed to time unknown names, never a credential


class PasswordHashing(Protocol):
    """What the store needs of argon2-cffi's :class:`~argon2.PasswordHasher` (which is one): ``verify`` raises
    its ``VerifyMismatchError`` / ``InvalidHashError`` on a wrong password or a bad hash, and other
    ``VerificationError``s when argon2 itself failed. The server passes
    :class:`~paramedic.auth._hash_child.HashChildren` (the same, in child processes), whose calls may also
    raise its ``HashUnavailableError``. Called from any thread."""

    def hash(self, password: str) -> str: ...

    def verify(self, hash: str, password: str) -> bool: ...


class UserError(TokenError):
    """The user file is unreadable or malformed, or a create/delete request is invalid."""


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    role: Role
    password_hash: str  # argon2id, PHC string format
    created_at: str  # RFC 3339
    grants: tuple[Grant, ...] = field(default=())

    def principal(self) -> Principal:
        return Principal.scoped(self.name, self.role, self.grants)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            "password_hash": self.password_hash,
            "created_at": self.created_at,
        }
        if self.grants:
            out["scopes"] = grants_json(self.grants)
        return out


class UserStore:
    def __init__(self, path: Path, *, hasher: PasswordHashing = _HASHER) -> None:
        self.path = path
        self._hasher = hasher
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, UserInfo] = {}
        # Verified against when the user does not exist, so an unknown name costs as much as a wrong password:
        # made by this store's hasher (same parameters as its users' hashes), on first need.
        self._dummy_hash: str | None = None

    def _load(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._users = None, {}
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            users = [
                UserInfo(
                    str(u["name"]),
                    _role(u["role"]),
                    str(u["password_hash"]),
                    str(u["created_at"]),
                    grants_from_json(u.get("scopes")),
                )
                for u in raw["users"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{self.path}: not a Paramedic user file ({exc})") from exc
        self._users, self._stamp = {u.name: u for u in users}, stamp

    def users(self) -> list[UserInfo]:
        with self._lock:
            self._load()
            return list(self._users.values())

    def get(self, name: str) -> Principal | None:
        """The principal of the user ``name`` as the file says now, or None when there is no such user."""
        with self._lock:
            self._load()
            info = self._users.get(name)
        return None if info is None else info.principal()

    def credential(self, name: str) -> str | None:
        """A digest of ``name``'s password hash as the file says now (None: no such user): a session opened
        with one password ends when it differs (the user was replaced, with a new password or grants)."""
        with self._lock:
            self._load()
            info = self._users.get(name)
        return None if info is None else hashlib.sha256(info.password_hash.encode()).hexdigest()

    def authenticate(self, name: str, password: str) -> Principal | None:
        """The principal when ``password`` is ``name``'s; None otherwise (same cost for unknown names).
        :class:`HashUnavailableError` when no verdict could be had (argon2 failed other than by a mismatch
        or a malformed hash, or no hash child answered): not a wrong password, so not to be cached or
        counted."""
        with self._lock:
            self._load()
            info = self._users.get(name)
        if info is None and self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(_DUMMY_PASSWORD)
        try:
            self._hasher.verify(info.password_hash if info else self._dummy_hash or "", password)
        except (VerifyMismatchError, InvalidHashError):
            return None
        except VerificationError as exc:  # argon2 failed (e.g. no memory): no verdict on the password
            raise HashUnavailableError(f"the password hash failed: {exc}") from exc
        return None if info is None else info.principal()

    def create(
        self,
        name: str,
        role: str,
        password: str,
        *,
        replace: bool = False,
        now: datetime | None = None,
        grants: Sequence[Grant] = (),
    ) -> UserInfo:
        """Store a user; ``grants`` scope it to orgs/spaces (``role`` must then be viewer or operator)."""
        checked = _role(role)
        try:
            check_scoped_role(checked, grants)
        except TokenError as exc:
            raise UserError(str(exc)) from None
        if not name or not name.isprintable() or len(name) > 100 or name != name.strip() or ":" in name:
            raise UserError("a user name must be 1-100 printable characters, no ':' or surrounding spaces")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(f"a password must be at least {MIN_PASSWORD_LENGTH} characters")
        created = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
        info = UserInfo(name, checked, self._hasher.hash(password), created, normalized(grants))
        with self._lock:
            self._load()
            if name in self._users and not replace:
                raise UserError(f"a user named {name!r} exists: delete it first or pick another name")
            self._write([*(u for u in self._users.values() if u.name != name), info])
        return info

    def delete(self, name: str) -> bool:
        """Remove the user ``name``; False when there is none."""
        with self._lock:
            self._load()
            if name not in self._users:
                return False
            self._write([u for u in self._users.values() if u.name != name])
        return True

    def _write(self, users: list[UserInfo]) -> None:
        write_private(self.path, json.dumps({"users": [u.to_json() for u in users]}, indent=2) + "\n")
        self._stamp = None
        self._load()


def _role(value: object) -> Role:
    """A web UI user's role: ``alert-sender`` is for API tokens only (Prometheus never logs in)."""
    if value not in RANKED_ROLES:
        raise UserError(f"unknown user role {value!r}: use one of {', '.join(RANKED_ROLES)}")
    return value
