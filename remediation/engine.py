"""The remediation engine: alerts in, safe actions out, everything in the audit trail.

Pipeline for every firing alert (:meth:`RemediationEngine.put` from any thread, or :meth:`handle`):

    plan (policies whose matchers all match -> one ActionRequest each, id stable per alert occurrence)
    -> record (audit ``requested``; a known id is a repeat and is dropped)
    -> rails (lock, cooldown, budget, blast radius, circuit breaker, max_concurrent; first objection wins:
       budget and circuit breaker refuse for good, the others defer — see below)
    -> mode (dry_run: say what would be done) -> approval (pending until approved, rejected or expired)
    -> start (``started`` is durably journaled *before* any platform call) -> action (platform calls in
       threads, retried with backoff, each attempt audited) -> succeeded/failed -> verify -> escalate/revert

Decisions run on the event loop without awaiting between the rails and ``started``, so rails that count
executed actions (budget, cooldown) can never be raced past. After a crash, :meth:`recover` marks actions
that were ``started`` but never finished ``interrupted`` and only verifies them: nothing is applied twice.

Deferral: a rail that says "not now" (lock, cooldown, blast radius, max_concurrent) puts the request in
``deferred`` (one ``deferred`` event per change of rail, not per re-check; one entry per request id). Deferred
requests are re-checked in arrival order through all the rails whenever an action finishes, at least every
second while the worker runs (:meth:`start`), and at every :meth:`handle`; once they pass they go on as usual
(dry run, approval, start). A deferred request ``expired`` when its triggering alert resolves first, or
after ``max_defer``. :meth:`recover` re-queues deferred requests (they never started).

The engine coordinates; its parts live in ``remediation._approvals`` (pending approvals),
``remediation._deferral`` (the deferred queue and its re-checks), ``remediation._execution`` (running and
verifying a started action), ``remediation._recovery`` (crash recovery), ``remediation._alerts`` (alerts to
the dispatcher) and ``remediation._journal`` (audit events with their metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from prometheus_client import CollectorRegistry

from alerting.base import AlertSink
from alerting.dispatch import write_json_atomic
from alerting.model import Alert
from platforms.base import PlatformError, Remediable
from platforms.tenancy import Scope
from remediation._alerts import EngineAlerts
from remediation._approvals import Approvals
from remediation._context import CallSettings, QueryFn, QueryRangeFn
from remediation._deferral import Deferral, RailsKey, Verdict
from remediation._execution import Executor
from remediation._journal import Journal, describe
from remediation._metrics import RemediationMetrics
from remediation._plan import CompiledPolicy, compile_policy, plan_alert
from remediation._recovery import Recovery
from remediation._tenancy import SCOPE_RAIL, Tenants, scope_refusal
from remediation.actions import ACTIONS, needs_instance_count
from remediation.approval import ApprovalSigner, SignedApprovalLinks
from remediation.base import AuditLog, RemediationError, Verifier
from remediation.config import GlobalRails, Policy
from remediation.model import ActionRecord, ActionRequest, AuditEvent
from remediation.rails import CircuitBreakerRail, RailEnv, build_rails, defers
from remediation.verify import AlertVerifier

__all__ = [
    "ActionNotFoundError",
    "ActionStateError",
    "PolicyStatus",
    "QueryFn",
    "QueryRangeFn",
    "RemediationEngine",
    "utc_now",
]

log = logging.getLogger(__name__)
_MAX_QUEUE = 200_000
POLICY_RAIL = "policy"  # the check named in the audit trail when a request's policy no longer exists


def utc_now() -> datetime:
    return datetime.now(UTC)


class ActionNotFoundError(RemediationError):
    """No action with that id in the audit trail."""


class ActionStateError(RemediationError):
    """The action is not in a state that allows the request (e.g. approving one not pending)."""


@dataclass(frozen=True, slots=True)
class PolicyStatus:
    name: str
    version: str
    mode: Literal["dry_run", "live"]  # after overrides
    configured_mode: Literal["dry_run", "live"]
    open_breakers: list[str]  # targets whose circuit breaker is open
    last_action: ActionRecord | None
    scope: Scope  # the tenants a space policy acts in; FOUNDATION for a foundation policy

    @property
    def breaker_open(self) -> bool:
        return bool(self.open_breakers)


class RemediationEngine:
    """Implements :class:`alerting.base.AlertSink`. ``put`` is thread-safe; everything else runs on the
    event loop that called :meth:`start` (or the caller's loop for :meth:`handle`)."""

    def __init__(  # noqa: PLR0913 - the engine's wiring: three collaborators, the rest keyword-only with defaults
        self,
        policies: Sequence[Policy],
        platform: Remediable,
        audit: AuditLog,
        *,
        global_rails: GlobalRails,
        verifier: Verifier | None = None,
        query: QueryFn | None = None,
        query_range: QueryRangeFn | None = None,
        notify: AlertSink | None = None,
        approval_signer: ApprovalSigner | None = None,
        external_url: str = "",
        clock: Callable[[], datetime] = utc_now,
        registry: CollectorRegistry,
        simulate: bool = False,
        retries: int = 3,
        backoff_s: float = 0.5,
        mode_overrides_path: Path | None = None,
    ) -> None:
        self.platform = platform
        self.audit = audit
        self.global_rails = global_rails
        self.simulate = simulate
        self._clock = clock
        self._modes_path = mode_overrides_path
        self._metrics = RemediationMetrics(registry)
        self._compiled: dict[str, CompiledPolicy] = {}
        self.apply_policies(policies)
        self._modes: dict[str, Literal["dry_run", "live"]] = self._load_modes()
        self._verifier: Verifier = verifier or AlertVerifier(
            query=query, expr_for=self._verify_expr, clock=clock
        )
        self._running: dict[str, ActionRequest] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._open_breakers: dict[tuple[str, str], datetime] = {}  # (policy, target) -> last failure
        self._counts: dict[str, tuple[float, int]] = {}  # app -> (monotonic fetched, instances)
        self._env = RailEnv(global_rails, self._policy, self._running, {})
        self._rails = build_rails(self._env)
        self._journal = Journal(audit, clock, self._metrics)
        self._tenants = Tenants(platform, self._metrics)
        self._alerts = EngineAlerts(notify, clock=clock, external_url=external_url)
        self._approvals = Approvals(self._journal, self._alerts, self._metrics, clock)
        # Signed approve/reject links, minted only into notifications (see remediation.approval).
        self.approval_links: SignedApprovalLinks | None = None
        if approval_signer is not None:
            terms = self._approvals.link_terms
            self.approval_links = SignedApprovalLinks(approval_signer, terms, external_url)
        self._deferral = Deferral(
            self._journal,
            self._env,
            clock=clock,
            policies=lambda: [cp.policy for cp in self._compiled.values()],
            prefetch_app=self._prefetch_app,
            decide=self._decide,
        )
        self._stopping = asyncio.Event()
        self._executor = Executor(
            platform,
            self._journal,
            self._alerts,
            self._metrics,
            self._verifier,
            policy=self._policy,
            calls=CallSettings(retries, backoff_s, simulate, self._stopping, query, query_range),
        )
        self._recovery = Recovery(
            self._journal,
            self._env,
            self._approvals,
            self._deferral,
            running=self._running,
            tasks=self._tasks,
            verify=self._executor.verify,
            finished=self._finished,
        )
        self._queue: deque[Alert] = deque()
        self._queue_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None

    @property
    def _deferred(self) -> Mapping[str, object]:
        """The deferred requests by action id (for inspection)."""
        return self._deferral.entries

    # -- policies and modes -------------------------------------------------------------------------------

    def apply_policies(self, policies: Sequence[Policy]) -> None:
        names = [p.name for p in policies]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise RemediationError(f"duplicate policy names: {', '.join(dup)}")
        self._compiled = {p.name: compile_policy(p) for p in policies}

    def _policy(self, name: str) -> Policy | None:
        cp = self._compiled.get(name)
        return None if cp is None else cp.policy

    def _verify_expr(self, request: ActionRequest) -> str | None:
        p = self._policy(request.policy)
        return None if p is None else p.verify.expr

    def _load_modes(self) -> dict[str, Literal["dry_run", "live"]]:
        if self._modes_path is None or not self._modes_path.exists():
            return {}
        try:
            raw = json.loads(self._modes_path.read_text())
        except (OSError, ValueError) as e:
            raise RemediationError(f"{self._modes_path}: cannot read mode overrides: {e}") from e
        return {str(k): v for k, v in raw.items() if v in ("dry_run", "live")}

    def set_mode(self, policy: str, mode: Literal["dry_run", "live"], who: str) -> None:
        cp = self._compiled.get(policy)
        if cp is None:
            raise RemediationError(f"unknown policy {policy!r}")
        previous = self._modes.get(policy, cp.policy.mode)
        self._modes[policy] = mode
        if self._modes_path is not None:
            write_json_atomic(self._modes_path, self._modes)
        data = {"mode": mode, "previous": previous, "who": who, "policy_version": cp.version}
        self.audit.append(AuditEvent(f"policy:{policy}", "mode_changed", self._clock(), data))

    def policy_mode(self, name: str) -> Literal["dry_run", "live"] | None:
        """``name``'s mode after overrides (None: no such policy). Cheap: no audit read."""
        cp = self._compiled.get(name)
        return None if cp is None else self._modes.get(name, cp.policy.mode)

    def policies(self) -> list[PolicyStatus]:
        out = []
        for name, cp in self._compiled.items():
            last = self.audit.query(policy=name, limit=1)
            out.append(
                PolicyStatus(
                    name=name,
                    version=cp.version,
                    mode=self._modes.get(name, cp.policy.mode),
                    configured_mode=cp.policy.mode,
                    open_breakers=sorted(t for (p, t) in self._open_breakers if p == name),
                    last_action=last[0] if last else None,
                    scope=cp.scope,
                )
            )
        return out

    def plan(self, alert: Alert) -> list[ActionRequest]:
        """Which policies match ``alert`` and the requests they would make (no rails, nothing recorded)."""
        return [
            p.request
            for p in plan_alert(list(self._compiled.values()), alert, self._clock(), self._modes)
            if p.refusal is None
        ]

    # -- input ----------------------------------------------------------------------------------------

    def put(self, alerts: Sequence[Alert]) -> None:
        """Enqueue alerts for the worker started by :meth:`start`. Thread-safe, never blocks."""
        self._metrics.alerts_received.inc(len(alerts))
        self._observe(alerts)
        with self._queue_lock:
            room = _MAX_QUEUE - len(self._queue)
            self._queue.extend(alerts[: max(room, 0)])
        if len(alerts) > room:
            self._metrics.alerts_dropped.inc(len(alerts) - max(room, 0))
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop closing: the alerts stay queued
                loop.call_soon_threadsafe(wake.set)

    def _observe(self, alerts: Sequence[Alert]) -> None:
        observe = getattr(self._verifier, "observe", None)
        if callable(observe):
            observe(alerts)
        self._deferral.observe(alerts)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping.clear()
        self._deferral.open()
        self._worker = asyncio.create_task(self._work(), name="remediation-engine")
        self._wake.set()

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Stop taking alerts; wait up to ``timeout_s`` for running actions, then cancel them (a cancelled
        action stays ``started`` in the journal and is reported ``interrupted`` by the next recover).
        An action that is only waiting on its verification is interrupted at once (it is applied; the next
        recover verifies it) unless a failed verification may still revert it.
        Deferred requests are not started any more; they stay ``deferred`` for the next recover."""
        await self._deferral.close()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        await self._interrupt_verifications()
        await self.drain(timeout_s)
        self._stopping.set()
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        self._loop = None

    async def _interrupt_verifications(self) -> None:
        waits = [t for i, t in self._tasks.items() if i in self._executor.interruptible]
        for t in waits:
            t.cancel()
        if waits:
            await asyncio.wait(waits, timeout=5.0)

    async def drain(self, timeout_s: float | None = None) -> bool:
        """Wait until no action is executing or verifying; False on timeout."""
        end = None if timeout_s is None else time.monotonic() + timeout_s
        while self._tasks:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(list(self._tasks.values()), timeout=left)
        return True

    async def _work(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            self._wake.clear()
            self._approvals.sweep()
            while True:
                with self._queue_lock:
                    batch = [self._queue.popleft() for _ in range(min(len(self._queue), 500))]
                if not batch:
                    break
                try:
                    await self._process(batch)
                except Exception:  # one bad batch must not stop the engine
                    log.exception("remediation: processing %d alerts failed", len(batch))
                await asyncio.sleep(0)
            if self._deferral.recheck_due():
                try:
                    await self._deferral.recheck()
                except Exception:
                    log.exception("remediation: re-checking deferred requests failed")

    async def handle(self, alerts: Sequence[Alert]) -> list[ActionRecord]:
        """Process ``alerts`` now and wait for the actions they start (incl. verification); the records."""
        self._metrics.alerts_received.inc(len(alerts))
        self._observe(alerts)
        self._approvals.sweep()
        await self._deferral.recheck()
        ids = await self._process(alerts)
        await self._wait_for(ids)
        return [r for r in (self.audit.get(i) for i in ids) if r is not None]

    async def _wait_for(self, ids: Sequence[str]) -> None:
        """Until none of ``ids`` is executing or verifying, including deferred ones that start meanwhile
        (those still deferred when nothing more runs are not waited for)."""
        while True:
            waits: list[asyncio.Task[None]] = [self._tasks[i] for i in ids if i in self._tasks]
            rt = self._deferral.pending_recheck(ids)
            if rt is not None:
                waits.append(rt)
            if not waits:
                return
            await asyncio.wait(waits)

    async def _process(self, alerts: Sequence[Alert]) -> list[str]:
        touched: list[str] = []
        compiled = list(self._compiled.values())
        for alert in alerts:
            try:
                plans = plan_alert(compiled, alert, self._clock(), self._modes)
            except Exception:  # one alert's bad labels (a tenant's series) must not lose the batch's others
                log.exception("remediation: planning alert %s failed", alert.fingerprint())
                continue
            for planned in plans:  # journal errors (AuditLogError, FencedOutError) still stop the batch
                req, mismatch = await self._tenants.stamp(planned.request)
                if not self.audit.record(req):
                    self._metrics.deduplicated.inc()
                    self._metrics.requests.labels(req.policy, "deduplicated").inc()
                    continue
                touched.append(req.id)
                refusal = self._refusal(req, planned.refusal, mismatch)
                if refusal is not None:
                    self._journal.refuse(req, *refusal)
                    continue
                await self._prefetch(req)
                self._decide(req)
        return touched

    async def submit(self, request: ActionRequest, *, wait: bool = False) -> ActionRecord:
        """A manual/API request (e.g. a blue-green deploy) through the same rails, mode and approval.
        A request id seen before returns its record unchanged. ``wait``: until the action finished.
        A request without org/space gets its target's (see :mod:`remediation._tenancy`)."""
        request, mismatch = await self._tenants.stamp(request)
        if self.audit.record(request):
            refusal = self._refusal(request, None, mismatch)
            if request.action not in ACTIONS:
                self._journal.refuse(request, "action", f"unknown action type {request.action!r}")
            elif refusal is not None:
                self._journal.refuse(request, *refusal)
            else:
                await self._prefetch(request)
                self._decide(request)
        else:
            self._metrics.deduplicated.inc()
        if wait:
            await self._wait_for([request.id])
        return self._record(request.id)

    def _refusal(
        self, req: ActionRequest, target_refusal: str | None, mismatch: str | None
    ) -> tuple[str, str] | None:
        """(check, reason) when ``req`` must be refused before any rail: its target labels are missing, its
        alert claims another tenant than the platform's (``mismatch``), or its space policy's target is
        outside the policy's spaces."""
        if target_refusal is not None:
            return "target", target_refusal
        if mismatch is not None:
            return SCOPE_RAIL, mismatch
        cp = self._compiled.get(req.policy)
        reason = None if cp is None else scope_refusal(req, cp.scope)
        return None if reason is None else (SCOPE_RAIL, reason)

    def _record(self, action_id: str) -> ActionRecord:
        rec = self.audit.get(action_id)
        if rec is None:
            raise ActionNotFoundError(f"no action {action_id}")
        return rec

    # -- decisions ------------------------------------------------------------------------------------

    async def _prefetch(self, req: ActionRequest) -> None:
        """Instance count for the blast-radius rail (read in a thread, cached 2 s per app)."""
        if needs_instance_count(req.action):
            await self._prefetch_app(req.target.app)

    async def _prefetch_app(self, app: str) -> None:
        hit = self._counts.get(app)
        if hit is not None and time.monotonic() - hit[0] < 2.0:
            return
        try:
            n = len(await asyncio.to_thread(self.platform.app_instances, app))
        except PlatformError as e:
            log.warning("remediation: cannot read instances of %s: %s", app, e)
            self._counts.pop(app, None)
        except Exception:  # an adapter answering garbage: unknown count, as above, never a lost batch
            log.exception("remediation: the platform's answer for the instances of %s is unusable", app)
            self._counts.pop(app, None)
        else:
            self._counts[app] = (time.monotonic(), n)
        self._env.instance_counts = {a: c for a, (_, c) in self._counts.items()}

    def _check_rails(
        self, req: ActionRequest, now: datetime, memo: dict[RailsKey, Verdict] | None
    ) -> Verdict:
        """The first rail that objects and why, or None. ``memo``: verdicts of this re-check pass by
        :func:`remediation._deferral.rails_key` (valid until an action starts; the request itself is
        neither running nor started, so the rails' "other than this request" exclusions make no
        difference)."""
        key = None
        if memo is not None:
            key = self._deferral.key(req)
            if key in memo:
                return memo[key]
        verdict: Verdict = None
        for rail in self._rails:
            reason = rail.check(req, self.audit, now)
            if reason is not None:
                verdict = (rail, reason)
                break
        if memo is not None and key is not None:
            memo[key] = verdict
        return verdict

    def _decide(
        self,
        req: ActionRequest,
        *,
        approved: bool = False,
        memo: dict[RailsKey, Verdict] | None = None,
    ) -> None:
        """Rails, mode, approval, start — synchronous, so nothing interleaves between check and start.

        The mode is the request's unless its policy is in dry run *now*: switching a policy to dry run is
        the operators' brake, so it also holds the live requests that were deferred or waiting for
        approval when it was pulled, and those whose maker read the configured mode (schedules). A request
        a policy made (it has a ``policy_version``) whose policy has been removed since is refused: the
        removed policy's rails (its approval, its cooldown) no longer apply, and the global defaults would
        let it start live without the approval it was made to wait for."""
        now = self._clock()
        if req.policy_version and req.policy not in self._compiled:
            self._deferral.discard(req.id)
            self._journal.refuse(req, POLICY_RAIL, f"policy {req.policy} was removed after the request")
            return
        verdict = self._check_rails(req, now, memo)
        if verdict is not None:
            rail, reason = verdict
            if defers(rail):
                self._deferral.defer(req, rail.name, reason, now, approved)
                return
            self._deferral.discard(req.id)
            self._journal.refuse(req, rail.name, reason)
            if isinstance(rail, CircuitBreakerRail):
                self._breaker_refused(req, rail, reason, now)
            return
        self._deferral.discard(req.id)
        self._breaker_passed(req)
        if req.mode == "dry_run" or self.policy_mode(req.policy) == "dry_run":
            data = {"would": describe(req)}
            if req.mode != "dry_run":  # live when requested; its policy was switched to dry run since
                data["policy_mode"] = "dry_run"
            self._journal.event(req.id, "dry_run", data)
            self._journal.outcome(req, "dry_run")
            return
        approval = self._env.approval(req.policy)
        if approval.required and not approved:
            self._approvals.request(req, now + timedelta(seconds=approval.timeout))
            return
        self._start(req)
        if memo is not None:
            memo.clear()  # running and started changed: every verdict may differ now

    def _start(self, req: ActionRequest) -> None:
        self._journal.event(req.id, "started", {"simulate": self.simulate, "what": describe(req)})
        self._journal.outcome(req, "started")
        self._running[req.id] = req
        self._metrics.running.set(len(self._running))
        self._tasks[req.id] = asyncio.create_task(self._execute(req), name=f"remediation-{req.id}")

    # -- circuit breaker escalation -------------------------------------------------------------------

    def _breaker_refused(
        self, req: ActionRequest, rail: CircuitBreakerRail, reason: str, now: datetime
    ) -> None:
        st = rail.state(req.policy, req.target, self.audit, now)
        key = (req.policy, str(req.target))
        if st.last_failure is not None and self._open_breakers.get(key) != st.last_failure:
            self._open_breakers[key] = st.last_failure
            self._metrics.breakers_open.set(len(self._open_breakers))
            self._executor.escalate(req, reason)

    def _breaker_passed(self, req: ActionRequest) -> None:
        if self._open_breakers.pop((req.policy, str(req.target)), None) is not None:
            self._metrics.breakers_open.set(len(self._open_breakers))

    # -- execution ------------------------------------------------------------------------------------

    async def _execute(self, req: ActionRequest) -> None:
        try:
            await self._executor.execute(req)
        finally:
            self._finished(req)

    def _finished(self, req: ActionRequest) -> None:
        """``req`` left ``running``/``verifying``: its bookkeeping, then re-check the deferred requests."""
        self._running.pop(req.id, None)
        self._tasks.pop(req.id, None)
        self._metrics.running.set(len(self._running))
        self._deferral.action_finished()

    # -- approvals --------------------------------------------------------------------------------------

    def _pending_record(self, action_id: str) -> ActionRecord:
        self._approvals.sweep()
        rec = self._record(action_id)
        if not self._approvals.claim(rec):
            raise ActionStateError(f"action {action_id} is {rec.status}, not pending approval")
        return rec

    async def approve(self, action_id: str, who: str, *, wait: bool = False) -> ActionRecord:
        """Approve a pending action; it then passes the rails again (they may have changed) and starts."""
        rec = self._pending_record(action_id)
        self._approvals.decided(rec.request, "approved", {"who": who}, f"approved by {who}")
        await self._prefetch(rec.request)
        self._decide(rec.request, approved=True)
        if wait:
            await self._wait_for([action_id])
        return self._record(action_id)

    async def reject(self, action_id: str, who: str, reason: str = "") -> ActionRecord:
        rec = self._pending_record(action_id)
        data = {"who": who, "reason": reason}
        self._approvals.decided(rec.request, "rejected", data, f"rejected by {who}")
        return self._record(action_id)

    # -- crash recovery -------------------------------------------------------------------------------

    async def recover(self) -> list[ActionRecord]:
        """Settle what the last run left open: ``started``/``succeeded`` without an end -> ``interrupted``
        (never re-applied) and then verified; pending approvals keep waiting until their timeout; deferred
        requests (never started) are re-queued in arrival order, their max_defer counted from the original
        deferral; recorded but undecided requests are refused (the alert is re-sent if it still fires)."""
        ids = self._recovery.settle()
        self._metrics.running.set(len(self._running))
        self._approvals.sweep()
        self._deferral.action_finished()  # re-check the re-queued requests soon
        return [self._record(i) for i in ids]
