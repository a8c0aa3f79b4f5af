"""Server-side sessions of the web UI, in memory.

Why server-side rather than a signed cookie (itsdangerous): logout and ``paramedic user delete`` must end a
session at once, and a signed cookie stays valid until it expires unless the server keeps a revocation list
anyway; there is also no signing key to configure, protect and rotate. The cost: sessions do not survive a
restart (users log in again) and are per process, which fits one Paramedic server.

The cookie carries only a random 256-bit session id (``secrets.token_urlsafe(32)``), unguessable, so it needs
no signature; the store keys sessions by the id's sha256, so the ids are not in memory in the clear. Each
session has a synchronizer CSRF token (checked by the middleware on every state-changing request that the
cookie authenticates), an idle timeout (sliding) and an absolute lifetime. Thread-safe.

A password user's session holds only the user name and its credential at log-in (a digest of the password
hash): the middleware looks the user (role and grants) up in the user file on every request, and ends the
session when the credential changed (``paramedic user create --replace``: a session opened with the old
password, perhaps by whoever the password leaked to, does not outlive it).

A single sign-on session (:mod:`._sso`) holds its **principal** (name, role,
scope as the identity provider's roles gave them at log-in) and ends at ``expires_at`` at the latest (the
provider's token expiry), besides the idle timeout and the absolute lifetime.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from paramedic.auth._store import Principal

__all__ = ["SESSION_COOKIE", "Session", "SessionStore"]

SESSION_COOKIE = "paramedic_session"


@dataclass(slots=True)
class Session:
    user: str
    csrf_token: str
    created_at: float  # monotonic-free wall clock (the injected clock), seconds
    last_seen: float
    principal: Principal | None = None  # single sign-on: who, fixed at log-in; None: look ``user`` up
    expires_at: float | None = None  # single sign-on: the provider's token expiry (epoch seconds)
    credential: str | None = None  # password log-in: the user's credential (``UserStore.credential``) then


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(
        self,
        *,
        idle_s: float,
        max_s: float,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.idle_s, self.max_s, self.max_sessions = idle_s, max_s, max_sessions
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def create(
        self,
        user: str,
        *,
        principal: Principal | None = None,
        expires_at: float | None = None,
        credential: str | None = None,
    ) -> tuple[str, Session]:
        """A new session for ``user``: (the id for the cookie, the session). ``principal`` and ``expires_at``
        for a single sign-on session (see the module docstring)."""
        now = self._clock()
        session_id = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(32), now, now, principal, expires_at, credential)
        with self._lock:
            self._prune(now)
            if len(self._sessions) >= self.max_sessions:  # drop the least recently used
                oldest = min(self._sessions, key=lambda k: self._sessions[k].last_seen)
                del self._sessions[oldest]
            self._sessions[_key(session_id)] = session
        return session_id, session

    def get(self, session_id: str) -> Session | None:
        """The live session of ``session_id`` (and mark it used), or None when unknown or expired."""
        now = self._clock()
        key = _key(session_id)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if self._dead(session, now):
                del self._sessions[key]
                return None
            session.last_seen = now
            return session

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(_key(session_id), None)

    def delete_user(self, user: str) -> int:
        """End every session of ``user``; returns how many."""
        with self._lock:
            keys = [k for k, s in self._sessions.items() if s.user == user]
            for k in keys:
                del self._sessions[k]
        return len(keys)

    def __len__(self) -> int:
        with self._lock:
            self._prune(self._clock())
            return len(self._sessions)

    def _prune(self, now: float) -> None:
        dead = [k for k, s in self._sessions.items() if self._dead(s, now)]
        for k in dead:
            del self._sessions[k]

    def _dead(self, session: Session, now: float) -> bool:
        if session.expires_at is not None and now >= session.expires_at:
            return True
        return now - session.last_seen > self.idle_s or now - session.created_at > self.max_s
