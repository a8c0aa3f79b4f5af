"""The single sign-on service behind ``/login/uaa`` (:class:`dashboard.sso_pages.SsoService`).

``begin``: a fresh random ``state`` and PKCE verifier are kept server-side (at most :data:`MAX_PENDING`, for
:data:`PENDING_TTL_S`) together with the sha256 of a random **binding** value that goes to the browser in a
short-lived cookie; the browser is sent to the provider with the state and the S256 challenge.
``finish``: the state is taken out of the pending table (single use: a replayed or forged state is a 400),
the cookie must match its binding (a state started in another browser is a 400: login CSRF), then the
provider identifies the user (:class:`~paramedic.auth._idp.IdentityProvider`) and a session is created whose
principal is the one the provider's roles give. No principal (no CF role grants access): a 403 page, no
session. At most ``max_concurrent`` identifications run at once (each makes a few calls to UAA and the CC);
more get 503 with ``Retry-After``.

Sessions of SSO users hold their principal (name, role, grants) for their whole life: the grants are read
once, at log-in, and the session ends when the provider's token expires or after ``max_session_s``,
whichever comes first; the next log-in reads the roles again.
Metric: ``paramedic_sso_logins_total{result}`` (``success``, ``no_roles``, ``bad_state``, ``denied``,
``busy`` and the :data:`~paramedic.auth._idp.IDENTITY_ERRORS`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from dashboard.sso_pages import SsoRefusedError, SsoSession
from paramedic.auth._idp import IDENTITY_ERRORS, IdentityError, IdentityProvider
from paramedic.auth._session import SESSION_COOKIE, SessionStore

__all__ = ["MAX_PENDING", "PENDING_TTL_S", "SSO_RESULTS", "SsoLogin", "sso_counter"]

SSO_RESULTS = ("success", "no_roles", "bad_state", "denied", "busy", *IDENTITY_ERRORS)
MAX_PENDING = 10_000
PENDING_TTL_S = 600.0
_STATUS = {"code_refused": 401, "bad_token": 401, "idp_unavailable": 502, "roles_unavailable": 502}


def sso_counter(registry: CollectorRegistry) -> Counter:
    """``paramedic_sso_logins_total{result}``, every result pre-created at 0."""
    counter = Counter(
        "paramedic_sso_logins", "Single sign-on (UAA) log-ins by result.", ["result"], registry=registry
    )
    for result in SSO_RESULTS:
        counter.labels(result)
    return counter


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(sha256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class _Pending:
    binding_sha: str
    verifier: str
    next_url: str
    redirect_uri: str
    expires: float


class SsoLogin:
    """:class:`dashboard.sso_pages.SsoService` over an identity provider and the session store."""

    cookie_name = SESSION_COOKIE

    def __init__(
        self,
        provider: IdentityProvider,
        sessions: SessionStore,
        *,
        max_session_s: float,
        logins: Counter,
        max_concurrent: int = 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.provider, self.sessions = provider, sessions
        self.max_session_s, self.logins = max_session_s, logins
        self._clock = clock
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._slots = asyncio.Semaphore(max_concurrent)

    @property
    def label(self) -> str:
        return self.provider.label

    def begin(self, next_url: str, redirect_uri: str) -> tuple[str, str]:
        """(the provider's authorization URL, the binding value for the browser's cookie)."""
        state, binding, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        now = self._clock()
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                for key in [k for k, p in self._pending.items() if p.expires <= now] or list(self._pending)[
                    : MAX_PENDING // 10
                ]:
                    del self._pending[key]
            self._pending[state] = _Pending(
                _sha(binding), verifier, next_url, redirect_uri, now + PENDING_TTL_S
            )
        url = self.provider.authorize_url(
            state=state, code_challenge=pkce_challenge(verifier), redirect_uri=redirect_uri
        )
        return url, binding

    def _take(self, state: str, binding: str) -> _Pending:
        with self._lock:
            pending = self._pending.pop(state, None)
        ok = (
            pending is not None
            and pending.expires > self._clock()
            and secrets.compare_digest(_sha(binding).encode(), pending.binding_sha.encode())
        )
        if pending is None or not ok:
            self.logins.labels("bad_state").inc()
            raise SsoRefusedError(
                400, "This log-in link expired or was not started in this browser: log in again."
            )
        return pending

    async def finish(self, state: str, code: str, error: str, binding: str) -> SsoSession:
        pending = self._take(state, binding)
        if error or not code:
            self.logins.labels("denied").inc()
            raise SsoRefusedError(401, f"Cloud Foundry did not log you in ({error[:100] or 'no code'}).")
        if self._slots.locked():
            self.logins.labels("busy").inc()
            raise SsoRefusedError(503, "The server is busy with other log-ins: try again.", retry_after_s=1)
        async with self._slots:
            try:
                identity = await self.provider.identify(
                    code=code, code_verifier=pending.verifier, redirect_uri=pending.redirect_uri
                )
            except IdentityError as exc:
                self.logins.labels(exc.reason).inc()
                raise SsoRefusedError(_STATUS.get(exc.reason, 502), f"Log-in failed: {exc.message}.") from exc
        if identity.principal is None:
            self.logins.labels("no_roles").inc()
            raise SsoRefusedError(
                403,
                f"No Cloud Foundry roles grant access to Paramedic for {identity.name!r}: space developers, "
                "managers, auditors and supporters and org managers and auditors can log in (ask an org "
                "manager for a role).",
            )
        now = self._clock()
        expires_at = min(identity.expires_at, now + self.max_session_s)
        if expires_at <= now:
            self.logins.labels("bad_token").inc()
            raise SsoRefusedError(401, "Log-in failed: the UAA token has already expired.")
        session_id, _ = self.sessions.create(
            f"sso:{identity.subject}", principal=identity.principal, expires_at=expires_at
        )
        self.logins.labels("success").inc()
        return SsoSession(session_id, pending.next_url, expires_at - now)

    def logout(self, session_id: str) -> None:
        self.sessions.delete(session_id)
