"""Deferral: requests a transient rail (lock, cooldown, blast radius, max_concurrent) said "not now" to.

One entry per request id, kept in arrival order; one ``deferred`` event per change of rail, not per re-check.
Deferred requests are re-checked in arrival order through all the rails (by the engine's decision, which
defers them again, refuses or starts them) whenever an action finishes, at least every second while the
engine's worker runs, and at every ``handle``. A deferred request ``expired`` when its triggering alert
resolves first, or after ``max_defer`` (counted from when the deferral began)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from alerting.model import Alert
from remediation._journal import Journal
from remediation.actions import needs_instance_count
from remediation.base import Rail
from remediation.config import Policy
from remediation.model import ActionRecord, ActionRequest
from remediation.rails import RailEnv

__all__ = ["Decide", "Deferral", "RailsKey", "Verdict", "rails_key"]

RECHECK_S = 1.0  # deferred requests are re-checked at least this often while the worker runs

RailsKey = tuple[str, str, str, str]
Verdict = tuple[Rail, str] | None


def rails_key(req: ActionRequest) -> RailsKey:
    """What the rails' verdict on ``req`` depends on (verdicts are shared within one re-check pass)."""
    params = json.dumps(req.params, sort_keys=True, default=str)
    return (req.policy, req.action, str(req.target), params)


class Decide(Protocol):
    """The engine's decision: rails, mode, approval, start (or defer again)."""

    def __call__(
        self, req: ActionRequest, *, approved: bool = ..., memo: dict[RailsKey, Verdict] | None = ...
    ) -> None: ...


@dataclass(slots=True)
class _Deferred:
    """A request waiting for a transient rail (one per request id)."""

    request: ActionRequest
    rail: str
    reason: str
    since: datetime  # when this deferral began: max_defer counts from here
    approved: bool  # approved before it was deferred: no second approval round
    key: RailsKey  # what the rails' verdict depends on (shared within one re-check pass)


class Deferral:
    """The deferred queue, the resolved alerts that expire its entries, and the re-check task. Runs on the
    engine's event loop except :meth:`observe`, which is thread-safe."""

    def __init__(
        self,
        journal: Journal,
        env: RailEnv,
        *,
        clock: Callable[[], datetime],
        policies: Callable[[], Iterable[Policy]],
        prefetch_app: Callable[[str], Awaitable[None]],
        decide: Decide,
    ) -> None:
        self._journal = journal
        self._env = env
        self._clock = clock
        self._policies = policies
        self._prefetch_app = prefetch_app
        self._decide = decide
        self._deferred: dict[str, _Deferred] = {}  # action id -> deferred request, in arrival order
        self._resolved: dict[str, datetime] = {}  # alert fingerprint -> latest ends_at seen (from put/handle)
        self._resolved_lock = threading.Lock()
        self._recheck_due = False
        self._recheck_task: asyncio.Task[None] | None = None
        self._last_recheck = 0.0  # monotonic
        self._closing = False  # engine stopping: deferred requests are left for recover()

    @property
    def entries(self) -> Mapping[str, object]:
        """The deferred requests by action id, in arrival order (read-only view for inspection)."""
        return self._deferred

    # -- bookkeeping ----------------------------------------------------------------------------------

    def observe(self, alerts: Sequence[Alert]) -> None:
        """Remember the resolved alerts among ``alerts`` (thread-safe)."""
        now = self._clock()
        ended = [(a, a.ends_at) for a in alerts if a.ends_at is not None and a.ends_at <= now]
        if ended:
            with self._resolved_lock:
                for a, at in ended:
                    fp = a.fingerprint()
                    prev = self._resolved.get(fp)
                    if prev is None or at > prev:
                        self._resolved[fp] = at

    def defer(self, req: ActionRequest, rail: str, reason: str, now: datetime, approved: bool) -> None:
        """Defer ``req`` (or keep it deferred); audited once per change of rail, not per re-check."""
        d = self._deferred.get(req.id)
        if d is None:
            self._deferred[req.id] = _Deferred(req, rail, reason, now, approved, rails_key(req))
            self._journal.outcome(req, "deferred")
        elif d.rail == rail:
            d.reason = reason
            return
        else:
            d.rail, d.reason = rail, reason
        self._journal.event(req.id, "deferred", {"rail": rail, "reason": reason})

    def discard(self, action_id: str) -> None:
        """``action_id`` was decided (refused, dry run, approval or start): no longer deferred."""
        self._deferred.pop(action_id, None)

    def key(self, req: ActionRequest) -> RailsKey:
        d = self._deferred.get(req.id)
        return d.key if d is not None else rails_key(req)

    def requeue(self, rec: ActionRecord) -> None:
        """Rebuild the deferred entry of a recovered ``deferred`` request from its events."""
        since, rail, reason, approved = rec.updated_at, "", "", False
        previous = "requested"
        for e in rec.events:
            if e.kind == "deferred":
                if previous != "deferred":
                    since = e.at
                rail, reason = str(e.data.get("rail", "")), str(e.data.get("reason", ""))
            elif e.kind == "approved":
                approved = True
            if e.kind in ("requested", "deferred", "approved", "pending_approval"):
                previous = e.kind
        req = rec.request
        self._deferred[req.id] = _Deferred(req, rail, reason, since, approved, rails_key(req))

    # -- re-checks ------------------------------------------------------------------------------------

    def open(self) -> None:
        self._closing = False

    async def close(self) -> None:
        """Re-check no more (the entries stay ``deferred`` for the next recover)."""
        self._closing = True
        if self._recheck_task is not None:
            self._recheck_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recheck_task
            self._recheck_task = None

    def recheck_due(self) -> bool:
        """The worker's periodic re-check is due."""
        return time.monotonic() - self._last_recheck >= RECHECK_S

    def pending_recheck(self, ids: Sequence[str]) -> asyncio.Task[None] | None:
        """The running re-check task if any of ``ids`` is deferred (it may start them), else None."""
        rt = self._recheck_task
        if rt is not None and not rt.done() and any(i in self._deferred for i in ids):
            return rt
        return None

    def action_finished(self) -> None:
        """An action left ``running``/``verifying``: re-check the deferred requests now (in a task, so the
        finished action's own bookkeeping completes first)."""
        if not self._deferred or self._closing:
            return
        self._recheck_due = True
        if self._recheck_task is None or self._recheck_task.done():
            self._recheck_task = asyncio.create_task(self._recheck_loop(), name="remediation-deferred")

    async def _recheck_loop(self) -> None:
        while self._recheck_due and not self._closing:
            self._recheck_due = False
            await self.recheck()

    async def recheck(self) -> None:
        """One pass over the deferred requests in arrival order: expire those whose alert resolved or that
        waited ``max_defer``, run the rest through all the rails again (the engine's decision)."""
        self._last_recheck = time.monotonic()
        if not self._deferred or self._closing:
            return
        apps = {
            d.request.target.app for d in self._deferred.values() if needs_instance_count(d.request.action)
        }
        for app in sorted(apps):
            await self._prefetch_app(app)
        if self._closing:
            return
        now = self._clock()
        resolved = self._take_resolved(now)
        memo: dict[RailsKey, Verdict] = {}
        for aid, d in list(self._deferred.items()):
            if self._deferred.get(aid) is not d:
                continue  # decided meanwhile
            why = self._expiry(d, resolved, now)
            if why is not None:
                del self._deferred[aid]
                self._journal.event(aid, "expired", {"reason": why, "rail": d.rail})
                self._journal.outcome(d.request, "expired")
                continue
            self._decide(d.request, approved=d.approved, memo=memo)

    def _take_resolved(self, now: datetime) -> dict[str, datetime]:
        """Resolved alerts seen so far; those older than any deferral can wait are forgotten."""
        horizon = max(
            [self._env.global_rails.max_defer] + [p.rails.max_defer or 0.0 for p in self._policies()]
        )
        cutoff = now - timedelta(seconds=horizon + 60.0)
        with self._resolved_lock:
            if len(self._resolved) > 1000:
                self._resolved = {fp: at for fp, at in self._resolved.items() if at >= cutoff}
            return dict(self._resolved)

    def _expiry(self, d: _Deferred, resolved: dict[str, datetime], now: datetime) -> str | None:
        """Why the deferred request must give up now, or None."""
        trig = d.request.trigger
        fp = trig.get("fingerprint")
        ended = resolved.get(fp) if isinstance(fp, str) else None
        if ended is not None and trig.get("status") != "resolved":
            start = trig.get("starts_at")
            if not isinstance(start, str) or not start or ended >= datetime.fromisoformat(start):
                return (
                    f"alert resolved at {ended.isoformat()} before the action could run "
                    f"(deferred by {d.rail}: {d.reason})"
                )
        limit = self._env.max_defer(d.request.policy)
        if (now - d.since).total_seconds() >= limit:
            return f"still deferred after max_defer {limit:g}s (by {d.rail}: {d.reason})"
        return None
