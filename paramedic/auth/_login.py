"""The log-in service behind ``/login`` (:class:`dashboard.auth_pages.LoginService`): throttled, and with a
bounded number of password hashes at once.

Order of a log-in: the throttle (:class:`LoginThrottle`) is asked first, so a locked-out guess costs no hash
(429 with ``Retry-After``); then a hash slot is awaited on the event loop for up to ``hash_wait_s`` (argon2id
takes 64 MiB and tens of ms of CPU per verification; ``max_concurrent_hashes`` bound both), else 503 with
``Retry-After``; once the slot is had the throttle is asked again (guesses sent at once all pass the first
check, and those that queued behind the failures of the others are locked out by then: no hash for them
either); the verification itself runs in a background thread, one per hash slot, at the lowest CPU priority
(nice 19, :data:`LOGIN_HASH_NICE`), below the threads that answer queries
(:class:`~metrics_store.background.BackgroundPool`), never on the event loop. The server's user store
hashes in child processes (:class:`~paramedic.auth._hash_child.HashChildren`: own GIL, idle class): there
the thread only waits for the child's answer and lifts the child out of the idle class when it is late, so
it runs at ``hash_thread_nice`` 0; a child that dies or stops progressing, or argon2 failing other than by
a mismatch, answers 503 with ``Retry-After`` and a fixed message (the cause is logged).
An unknown user name costs one verification too (:meth:`UserStore.authenticate`), so timing does not tell
names apart.
What a verification said is remembered for a short while (:class:`~paramedic.auth._verdicts.VerdictCache`,
keyed by a keyed digest of the name, the user's credential and the password): the same password for the
same unchanged user again, from any client, costs no hash and no slot. A failure so answered is still a
failure to the throttle; a wrong password is never accepted (a verdict is only what argon2 said for exactly
that triple, and a replaced user has a new credential).
Metrics: ``paramedic_login_attempts_total{result}`` (``success``, ``failure``, ``throttled``, ``busy``) and
``paramedic_http_refusals_total{reason="login_throttled"|"login_busy"}``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from prometheus_client import CollectorRegistry, Counter

from dashboard.auth_pages import LoginRefusedError
from metrics_store.background import BackgroundPool
from paramedic.auth._hash_child import HashUnavailableError
from paramedic.auth._session import SESSION_COOKIE, SessionStore
from paramedic.auth._store import Principal
from paramedic.auth._throttle import LoginThrottle
from paramedic.auth._users import UserStore
from paramedic.auth._verdicts import VerdictCache

__all__ = ["LOGIN_HASH_NICE", "LOGIN_RESULTS", "UNAVAILABLE", "SessionLogin", "login_counter"]

_log = logging.getLogger(__name__)
_UNAVAILABLE_LOG_EVERY_S = 60.0
UNAVAILABLE = "The password check is unavailable: try again."  # fixed: the cause is logged, not shown

LOGIN_RESULTS = ("success", "failure", "throttled", "busy")
# argon2id verifies on `parallelism` (4) lanes, one thread each, inheriting the hash thread's nice value: at
# the background pools' nice 10 (CFS weight 110) two hashes at once weigh 8 x 110 = 880 against 1,024 for a
# query thread, which then gets ~55-70% of a shared CPU; at nice 19 (weight 15) 8 x 15 = 120: ~90%. A log-in
# is the work that may wait (its slot wait is bounded by hash_wait_s, and guesses by the throttle).
LOGIN_HASH_NICE = 19


def login_counter(registry: CollectorRegistry) -> Counter:
    """``paramedic_login_attempts_total{result}``, every result pre-created at 0."""
    counter = Counter(
        "paramedic_login_attempts", "Web UI log-in attempts by result.", ["result"], registry=registry
    )
    for result in LOGIN_RESULTS:
        counter.labels(result)
    return counter


class SessionLogin:
    """:class:`dashboard.auth_pages.LoginService` over the user file and the session store."""

    cookie_name = SESSION_COOKIE

    def __init__(  # noqa: PLR0913 - keyword-only settings of one service, each with its config key
        self,
        users: UserStore,
        sessions: SessionStore,
        *,
        throttle: LoginThrottle,
        max_concurrent_hashes: int,
        hash_wait_s: float,
        attempts: Counter,
        refusals: Counter,
        verdicts: VerdictCache | None = None,
        hash_thread_nice: int = LOGIN_HASH_NICE,
    ) -> None:
        """``verdicts``: where verifications are remembered (None: a fresh :class:`VerdictCache`).
        ``hash_thread_nice``: of the threads that call ``users.authenticate`` (19 when they hash themselves;
        0 when ``users`` hashes in child processes, so the thread that must lift a late child is not one
        that a loaded host delays)."""
        self.users, self.sessions, self.throttle = users, sessions, throttle
        self.verdicts = verdicts if verdicts is not None else VerdictCache()
        self.hash_wait_s = hash_wait_s
        self._hashes = asyncio.Semaphore(max_concurrent_hashes)
        self._hashers = BackgroundPool("login-hash", max_concurrent_hashes, nice=hash_thread_nice)
        self.attempts, self.refusals = attempts, refusals
        self._unavailable_logged_at, self._unavailable_unlogged = -math.inf, 0

    def _log_unavailable(self, name: str, exc: HashUnavailableError) -> None:
        """The cause of a 503 (for the operator only: the page says nothing), at most one line a minute with
        the count of those not logged, the name cut short: a refused log-in is not a throttle failure, so a
        client may repeat it without bound."""
        now = time.monotonic()
        if now - self._unavailable_logged_at < _UNAVAILABLE_LOG_EVERY_S:
            self._unavailable_unlogged += 1
            return
        _log.warning(
            "a log-in for %.64r got 503 (%d more since the last such line): %s",
            name,
            self._unavailable_unlogged,
            exc,
        )
        self._unavailable_logged_at, self._unavailable_unlogged = now, 0

    @property
    def session_max_s(self) -> float:
        return self.sessions.max_s

    async def login(self, name: str, password: str, client: str) -> str | None:
        self._refuse_if_locked_out(name, client)
        # read before the password is checked: a user replaced meanwhile ends this session at first use
        credential = self.users.credential(name)
        known = self.verdicts.get(name, credential, password)
        if known is None:
            principal, credential = await self._verified(name, password, client)
        else:
            principal = self.users.get(name) if known else None
        if principal is None:
            self.throttle.failure(client, name)
            self.attempts.labels("failure").inc()
            return None
        self.throttle.success(name)
        self.attempts.labels("success").inc()
        session_id, _ = self.sessions.create(principal.name, credential=credential)
        return session_id

    async def _verified(self, name: str, password: str, client: str) -> tuple[Principal | None, str | None]:
        """The principal when ``password`` is ``name``'s (None: it is not), and the credential it was
        checked against: one hash, in a slot, unless the throttle or a verdict made meanwhile answers."""
        try:
            await asyncio.wait_for(self._hashes.acquire(), self.hash_wait_s)
        except TimeoutError:
            self.attempts.labels("busy").inc()
            self.refusals.labels("login_busy").inc()
            raise LoginRefusedError(503, 1, "The server is busy checking other log-ins: try again.") from None
        try:
            # asked again once the slot is ours: guesses sent at once all pass the first check, and those
            # that waited behind the others' failures are locked out by now (no hash for them either)
            self._refuse_if_locked_out(name, client)
            credential = self.users.credential(name)
            known = self.verdicts.get(name, credential, password)  # the same guess, hashed while we waited
            if known is not None:
                return (self.users.get(name) if known else None), credential
            try:
                principal = await self._hashers.run(lambda: self.users.authenticate(name, password))
            except HashUnavailableError as exc:  # no verdict: not cached, not a failure for the throttle
                self._log_unavailable(name, exc)
                self.attempts.labels("busy").inc()
                self.refusals.labels("login_busy").inc()
                raise LoginRefusedError(503, 1, UNAVAILABLE) from exc
            if self.users.credential(name) == credential:  # not replaced while hashing: the verdict holds
                self.verdicts.put(name, credential, password, ok=principal is not None)
            return principal, credential
        finally:
            self._hashes.release()

    def _refuse_if_locked_out(self, name: str, client: str) -> None:
        wait = self.throttle.retry_after(client, name)
        if wait > 0:
            self.attempts.labels("throttled").inc()
            self.refusals.labels("login_throttled").inc()
            raise LoginRefusedError(429, math.ceil(wait), "Too many failed log-ins: try again later.")

    def logout(self, session_id: str) -> None:
        self.sessions.delete(session_id)
