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
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from alerting.base import AlertSink
from alerting.dispatch._persist import write_json_atomic
from alerting.model import Alert
from platforms.base import PlatformError, Remediable
from remediation._context import EngineContext, QueryFn, QueryRangeFn
from remediation._metrics import EngineMetrics
from remediation._plan import CompiledPolicy, compile_policy, plan_alert
from remediation.actions import ACTIONS
from remediation.approval import ApprovalSigner
from remediation.base import ActionResult, AuditLog, Rail, RemediationError, Verifier
from remediation.config import GlobalRails, Policy, VerifySpec
from remediation.model import ActionRecord, ActionRequest, AuditEvent, EventKind
from remediation.rails import INSTANCE_ACTIONS, CircuitBreakerRail, RailEnv, build_rails, defers
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
_RECHECK_S = 1.0  # deferred requests are re-checked at least this often while the worker runs

_RailsKey = tuple[str, str, str, str]
_Verdict = tuple[Rail, str] | None


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

    @property
    def breaker_open(self) -> bool:
        return bool(self.open_breakers)


@dataclass(slots=True)
class _Deferred:
    """A request waiting for a transient rail (one per request id)."""

    request: ActionRequest
    rail: str
    reason: str
    since: datetime  # when this deferral began: max_defer counts from here
    approved: bool  # approved before it was deferred: no second approval round
    key: _RailsKey  # what the rails' verdict depends on (shared within one re-check pass)


def _rails_key(req: ActionRequest) -> _RailsKey:
    params = json.dumps(req.params, sort_keys=True, default=str)
    return (req.policy, req.action, str(req.target), params)


class RemediationEngine:
    """Implements :class:`alerting.base.AlertSink`. ``put`` is thread-safe; everything else runs on the
    event loop that called :meth:`start` (or the caller's loop for :meth:`handle`)."""

    def __init__(
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
        self._query = query
        self._query_range = query_range
        self._notify = notify
        self._signer = approval_signer
        self._external_url = external_url.rstrip("/")
        self._clock = clock
        self._retries = retries
        self._backoff_s = backoff_s
        self._modes_path = mode_overrides_path
        self._metrics = EngineMetrics(registry)
        self._compiled: dict[str, CompiledPolicy] = {}
        self.apply_policies(policies)
        self._modes: dict[str, Literal["dry_run", "live"]] = self._load_modes()
        self._verifier: Verifier = verifier or AlertVerifier(
            query=query, expr_for=self._verify_expr, clock=clock
        )
        self._running: dict[str, ActionRequest] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pending: dict[str, datetime] = {}  # action id -> expires at
        self._open_breakers: dict[tuple[str, str], datetime] = {}  # (policy, target) -> last failure
        self._counts: dict[str, tuple[float, int]] = {}  # app -> (monotonic fetched, instances)
        self._deferred: dict[str, _Deferred] = {}  # action id -> deferred request, in arrival order
        self._resolved: dict[str, datetime] = {}  # alert fingerprint -> latest ends_at seen (from put/handle)
        self._resolved_lock = threading.Lock()
        self._recheck_due = False
        self._recheck_task: asyncio.Task[None] | None = None
        self._last_recheck = 0.0  # monotonic
        self._closing = False  # stop() in progress: deferred requests are left for recover()
        self._env = RailEnv(global_rails, self._policy, self._running, {})
        self._rails = build_rails(self._env)
        self._queue: deque[Alert] = deque()
        self._queue_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

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
        now = self._clock()
        ended = [(a, a.ends_at) for a in alerts if a.ends_at is not None and a.ends_at <= now]
        if ended:
            with self._resolved_lock:
                for a, at in ended:
                    fp = a.fingerprint()
                    prev = self._resolved.get(fp)
                    if prev is None or at > prev:
                        self._resolved[fp] = at

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping.clear()
        self._closing = False
        self._worker = asyncio.create_task(self._work(), name="remediation-engine")
        self._wake.set()

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Stop taking alerts; wait up to ``timeout_s`` for running actions, then cancel them (a cancelled
        action stays ``started`` in the journal and is reported ``interrupted`` by the next recover).
        Deferred requests are not started any more; they stay ``deferred`` for the next recover."""
        self._closing = True
        if self._recheck_task is not None:
            self._recheck_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recheck_task
            self._recheck_task = None
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        await self.drain(timeout_s)
        self._stopping.set()
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        self._loop = None

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
            self._sweep_expired()
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
            if time.monotonic() - self._last_recheck >= _RECHECK_S:
                try:
                    await self._recheck_deferred()
                except Exception:
                    log.exception("remediation: re-checking deferred requests failed")

    async def handle(self, alerts: Sequence[Alert]) -> list[ActionRecord]:
        """Process ``alerts`` now and wait for the actions they start (incl. verification); the records."""
        self._metrics.alerts_received.inc(len(alerts))
        self._observe(alerts)
        self._sweep_expired()
        await self._recheck_deferred()
        ids = await self._process(alerts)
        await self._wait_for(ids)
        return [r for r in (self.audit.get(i) for i in ids) if r is not None]

    async def _wait_for(self, ids: Sequence[str]) -> None:
        """Until none of ``ids`` is executing or verifying, including deferred ones that start meanwhile
        (those still deferred when nothing more runs are not waited for)."""
        while True:
            waits: list[asyncio.Task[None]] = [self._tasks[i] for i in ids if i in self._tasks]
            rt = self._recheck_task
            if rt is not None and not rt.done() and any(i in self._deferred for i in ids):
                waits.append(rt)
            if not waits:
                return
            await asyncio.wait(waits)

    async def _process(self, alerts: Sequence[Alert]) -> list[str]:
        touched: list[str] = []
        compiled = list(self._compiled.values())
        for alert in alerts:
            for planned in plan_alert(compiled, alert, self._clock(), self._modes):
                req = planned.request
                if not self.audit.record(req):
                    self._metrics.deduplicated.inc()
                    self._metrics.requests.labels(req.policy, "deduplicated").inc()
                    continue
                touched.append(req.id)
                if planned.refusal is not None:
                    self._refuse(req, "target", planned.refusal)
                    continue
                await self._prefetch(req)
                self._decide(req)
        return touched

    async def submit(self, request: ActionRequest, *, wait: bool = False) -> ActionRecord:
        """A manual/API request (e.g. a blue-green deploy) through the same rails, mode and approval.
        A request id seen before returns its record unchanged. ``wait``: until the action finished."""
        if self.audit.record(request):
            if request.action not in ACTIONS:
                self._refuse(request, "action", f"unknown action type {request.action!r}")
            else:
                await self._prefetch(request)
                self._decide(request)
        else:
            self._metrics.deduplicated.inc()
        if wait:
            await self._wait_for([request.id])
        return self._record(request.id)

    def _record(self, action_id: str) -> ActionRecord:
        rec = self.audit.get(action_id)
        if rec is None:
            raise ActionNotFoundError(f"no action {action_id}")
        return rec

    # -- decisions ------------------------------------------------------------------------------------

    def _event(self, action_id: str, kind: EventKind, data: dict[str, Any] | None = None) -> AuditEvent:
        return self.audit.append(AuditEvent(action_id, kind, self._clock(), data or {}))

    def _outcome(self, req: ActionRequest, outcome: str) -> None:
        self._metrics.requests.labels(req.policy, outcome).inc()

    def _refuse(self, req: ActionRequest, rail: str, reason: str) -> None:
        self._event(req.id, "refused", {"rail": rail, "reason": reason})
        self._metrics.refusals.labels(rail).inc()
        self._outcome(req, "refused")

    async def _prefetch(self, req: ActionRequest) -> None:
        """Instance count for the blast-radius rail (read in a thread, cached 2 s per app)."""
        if req.action in INSTANCE_ACTIONS or req.action == "scale":
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
        else:
            self._counts[app] = (time.monotonic(), n)
        self._env.instance_counts = {a: c for a, (_, c) in self._counts.items()}

    def _check_rails(
        self, req: ActionRequest, now: datetime, memo: dict[_RailsKey, _Verdict] | None
    ) -> _Verdict:
        """The first rail that objects and why, or None. ``memo``: verdicts of this re-check pass by
        :func:`_rails_key` (valid until an action starts; the request itself is neither running nor started,
        so the rails' "other than this request" exclusions make no difference)."""
        key = None
        if memo is not None:
            d = self._deferred.get(req.id)
            key = d.key if d is not None else _rails_key(req)
            if key in memo:
                return memo[key]
        verdict: _Verdict = None
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
        memo: dict[_RailsKey, _Verdict] | None = None,
    ) -> None:
        """Rails, mode, approval, start — synchronous, so nothing interleaves between check and start."""
        now = self._clock()
        verdict = self._check_rails(req, now, memo)
        if verdict is not None:
            rail, reason = verdict
            if defers(rail):
                self._defer(req, rail.name, reason, now, approved)
                return
            self._deferred.pop(req.id, None)
            self._refuse(req, rail.name, reason)
            if isinstance(rail, CircuitBreakerRail):
                self._breaker_refused(req, rail, reason, now)
            return
        self._deferred.pop(req.id, None)
        self._breaker_passed(req)
        if req.mode == "dry_run":
            self._event(req.id, "dry_run", {"would": self._describe(req)})
            self._outcome(req, "dry_run")
            return
        approval = self._env.approval(req.policy)
        if approval.required and not approved:
            expires = now + timedelta(seconds=approval.timeout)
            self._event(req.id, "pending_approval", {"expires_at": expires.isoformat()})
            self._pending[req.id] = expires
            self._metrics.pending_approvals.set(len(self._pending))
            self._outcome(req, "pending_approval")
            self._send_approval(req, expires)
            return
        self._start(req)
        if memo is not None:
            memo.clear()  # running and started changed: every verdict may differ now

    def _describe(self, req: ActionRequest) -> str:
        params = {k: v for k, v in req.params.items() if k != "type" and v is not None}
        return f"{req.action} {req.target}" + (f" {json.dumps(params, sort_keys=True)}" if params else "")

    def _start(self, req: ActionRequest) -> None:
        self._event(req.id, "started", {"simulate": self.simulate, "what": self._describe(req)})
        self._outcome(req, "started")
        self._running[req.id] = req
        self._metrics.running.set(len(self._running))
        self._tasks[req.id] = asyncio.create_task(self._execute(req), name=f"remediation-{req.id}")

    # -- deferral -------------------------------------------------------------------------------------

    def _defer(self, req: ActionRequest, rail: str, reason: str, now: datetime, approved: bool) -> None:
        """Defer ``req`` (or keep it deferred); audited once per change of rail, not per re-check."""
        d = self._deferred.get(req.id)
        if d is None:
            self._deferred[req.id] = _Deferred(req, rail, reason, now, approved, _rails_key(req))
            self._outcome(req, "deferred")
        elif d.rail == rail:
            d.reason = reason
            return
        else:
            d.rail, d.reason = rail, reason
        self._event(req.id, "deferred", {"rail": rail, "reason": reason})

    def _action_finished(self) -> None:
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
            await self._recheck_deferred()

    def _take_resolved(self, now: datetime) -> dict[str, datetime]:
        """Resolved alerts seen so far; those older than any deferral can wait are forgotten."""
        horizon = max(
            [self.global_rails.max_defer]
            + [cp.policy.rails.max_defer or 0.0 for cp in self._compiled.values()]
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

    async def _recheck_deferred(self) -> None:
        """One pass over the deferred requests in arrival order: expire those whose alert resolved or that
        waited ``max_defer``, run the rest through all the rails again (:meth:`_decide`)."""
        self._last_recheck = time.monotonic()
        if not self._deferred or self._closing:
            return
        apps = {
            d.request.target.app
            for d in self._deferred.values()
            if d.request.action in INSTANCE_ACTIONS or d.request.action == "scale"
        }
        for app in sorted(apps):
            await self._prefetch_app(app)
        if self._closing:
            return
        now = self._clock()
        resolved = self._take_resolved(now)
        memo: dict[_RailsKey, _Verdict] = {}
        for aid, d in list(self._deferred.items()):
            if self._deferred.get(aid) is not d:
                continue  # decided meanwhile
            why = self._expiry(d, resolved, now)
            if why is not None:
                del self._deferred[aid]
                self._event(aid, "expired", {"reason": why, "rail": d.rail})
                self._outcome(d.request, "expired")
                continue
            self._decide(d.request, approved=d.approved, memo=memo)

    # -- circuit breaker escalation -------------------------------------------------------------------

    def _breaker_refused(
        self, req: ActionRequest, rail: CircuitBreakerRail, reason: str, now: datetime
    ) -> None:
        st = rail.state(req.policy, req.target, self.audit, now)
        key = (req.policy, str(req.target))
        if st.last_failure is not None and self._open_breakers.get(key) != st.last_failure:
            self._open_breakers[key] = st.last_failure
            self._metrics.breakers_open.set(len(self._open_breakers))
            self._escalate(req, reason)

    def _breaker_passed(self, req: ActionRequest) -> None:
        if self._open_breakers.pop((req.policy, str(req.target)), None) is not None:
            self._metrics.breakers_open.set(len(self._open_breakers))

    # -- execution ------------------------------------------------------------------------------------

    async def _execute(self, req: ActionRequest) -> None:
        t0 = time.monotonic()
        ctx = EngineContext(
            self.platform,
            req,
            event=lambda kind, data: self._event(req.id, kind, data),  # type: ignore[arg-type]
            metrics=self._metrics,
            retries=self._retries,
            backoff_s=self._backoff_s,
            simulate=self.simulate,
            stopping=self._stopping,
            query=self._query,
            query_range=self._query_range,
        )
        try:
            result = await self._run_action(ctx, req)
            self._metrics.duration.labels(req.action).observe(time.monotonic() - t0)
            spec = self._verify_spec(req)
            if not result.ok:
                self._event(req.id, "failed", {"detail": result.detail, "data": result.data})
                self._outcome(req, "failed")
                if spec.on_failure != "none":
                    self._escalate(req, f"action failed: {result.detail}")
                return
            self._event(req.id, "succeeded", {"detail": result.detail, "data": result.data})
            self._outcome(req, "succeeded")
            await self._verify(req, result)
        finally:
            self._running.pop(req.id, None)
            self._tasks.pop(req.id, None)
            self._metrics.running.set(len(self._running))
            self._action_finished()

    async def _run_action(self, ctx: EngineContext, req: ActionRequest) -> ActionResult:
        action = ACTIONS.get(req.action)
        if action is None:
            return ActionResult(False, f"unknown action type {req.action!r}")
        try:
            params = action.params_model.model_validate(req.params)
            return await action.run(ctx, req.target, params)
        except PlatformError as e:
            return ActionResult(False, f"platform error: {e}")
        except ValidationError as e:
            return ActionResult(False, f"invalid params: {e}")
        except RemediationError as e:
            return ActionResult(False, str(e))
        except Exception as e:  # an action bug must end in 'failed', never leave the journal open
            log.exception("remediation action %s crashed", req.id)
            return ActionResult(False, f"{type(e).__name__}: {e}")

    def _verify_spec(self, req: ActionRequest) -> VerifySpec:
        p = self._policy(req.policy)
        return p.verify if p is not None else VerifySpec()

    async def _verify(self, req: ActionRequest, result: ActionResult | None) -> None:
        spec = self._verify_spec(req)
        if "fingerprint" not in req.trigger and spec.expr is None:
            self._event(req.id, "verified", {"observed": "no trigger condition to verify"})
            self._metrics.verifications.labels("nothing_to_verify").inc()
            self._outcome(req, "verified")
            return
        deadline = 0.0 if self.simulate else spec.deadline
        ok, seen = await self._verifier.verify(req, deadline)
        self._metrics.verifications.labels("verified" if ok else "failed").inc()
        if ok:
            self._event(req.id, "verified", {"observed": seen})
            self._outcome(req, "verified")
            return
        self._event(req.id, "verification_failed", {"observed": seen, "deadline_s": deadline})
        self._outcome(req, "verification_failed")
        reason = f"not verified within {deadline:g}s: {seen}"
        if spec.on_failure == "revert" and result is not None and result.revert is not None:
            try:
                await result.revert()
            except Exception as e:  # PlatformError after retries, or an action bug
                self._escalate(req, f"{reason}; revert failed: {e}")
                return
            self._event(req.id, "reverted", {"reason": reason})
            self._outcome(req, "reverted")
        elif spec.on_failure != "none":
            extra = "; no revert available" if spec.on_failure == "revert" else ""
            self._escalate(req, reason + extra)

    # -- notifications ----------------------------------------------------------------------------------

    def _escalate(self, req: ActionRequest, reason: str) -> None:
        self._event(req.id, "escalated", {"reason": reason})
        self._outcome(req, "escalated")
        self._send(
            req,
            "RemediationEscalated",
            {"summary": f"{req.policy}: {self._describe(req)} needs a human", "description": reason},
        )

    def _send_approval(self, req: ActionRequest, expires: datetime) -> None:
        ann = {
            "summary": f"{req.policy} wants to {self._describe(req)}: approve or reject",
            "expires_at": expires.isoformat(),
        }
        if self._signer is not None:
            base = f"{self._external_url}/api/v1/actions/{req.id}"
            ann["approve_url"] = f"{base}/approve?token={self._signer.sign(req.id, 'approve', expires)}"
            ann["reject_url"] = f"{base}/reject?token={self._signer.sign(req.id, 'reject', expires)}"
        # Firing until the approval expires (not the 5 min resolve timeout); resolved on decision.
        self._send(req, "RemediationApprovalPending", ann, ends_at=expires)

    def _approval_decided(self, req: ActionRequest, decision: str) -> None:
        """Resolve the approval request alert: the action was approved, rejected or expired."""
        self._send(
            req,
            "RemediationApprovalPending",
            {"summary": f"{req.policy}: {self._describe(req)} was {decision}"},
            ends_at=self._clock(),
        )

    def _send(
        self,
        req: ActionRequest,
        alertname: str,
        annotations: dict[str, str],
        *,
        ends_at: datetime | None = None,
    ) -> None:
        if self._notify is None:
            return
        labels = {
            "alertname": alertname,
            "policy": req.policy,
            "app": req.target.app,
            "action": req.action,
            "action_id": req.id,
            "severity": "critical" if alertname == "RemediationEscalated" else "warning",
        }
        if req.target.instance is not None:
            labels["app_instance"] = str(req.target.instance)
        try:
            self._notify.put([Alert(labels, annotations, starts_at=self._clock(), ends_at=ends_at)])
        except Exception:  # notification trouble must not break the action's journal
            log.exception("remediation: cannot send %s for %s", alertname, req.id)

    # -- approvals --------------------------------------------------------------------------------------

    def _sweep_expired(self) -> None:
        now = self._clock()
        for aid, expires in list(self._pending.items()):
            if now >= expires:
                self._pending.pop(aid, None)
                self._event(aid, "expired", {"expired_at": expires.isoformat()})
                rec = self.audit.get(aid)
                if rec is not None:
                    self._outcome(rec.request, "expired")
                    self._approval_decided(rec.request, "not decided in time (expired)")
        self._metrics.pending_approvals.set(len(self._pending))

    def _pending_record(self, action_id: str) -> ActionRecord:
        self._sweep_expired()
        rec = self._record(action_id)
        if rec.status != "pending_approval":
            raise ActionStateError(f"action {action_id} is {rec.status}, not pending approval")
        self._pending.pop(action_id, None)
        self._metrics.pending_approvals.set(len(self._pending))
        return rec

    async def approve(self, action_id: str, who: str, *, wait: bool = False) -> ActionRecord:
        """Approve a pending action; it then passes the rails again (they may have changed) and starts."""
        rec = self._pending_record(action_id)
        self._event(action_id, "approved", {"who": who})
        self._outcome(rec.request, "approved")
        self._approval_decided(rec.request, f"approved by {who}")
        await self._prefetch(rec.request)
        self._decide(rec.request, approved=True)
        if wait:
            await self._wait_for([action_id])
        return self._record(action_id)

    async def reject(self, action_id: str, who: str, reason: str = "") -> ActionRecord:
        rec = self._pending_record(action_id)
        self._event(action_id, "rejected", {"who": who, "reason": reason})
        self._outcome(rec.request, "rejected")
        self._approval_decided(rec.request, f"rejected by {who}")
        return self._record(action_id)

    # -- crash recovery -------------------------------------------------------------------------------

    async def recover(self) -> list[ActionRecord]:
        """Settle what the last run left open: ``started``/``succeeded`` without an end -> ``interrupted``
        (never re-applied) and then verified; pending approvals keep waiting until their timeout; deferred
        requests (never started) are re-queued in arrival order, their max_defer counted from the original
        deferral; recorded but undecided requests are refused (the alert is re-sent if it still fires)."""
        out: list[str] = []
        deferred: list[ActionRecord] = []
        for rec in self.audit.open_actions():
            req = rec.request
            out.append(req.id)
            if rec.status == "deferred":
                deferred.append(rec)
            elif rec.status == "pending_approval":
                at = next(e.at for e in reversed(rec.events) if e.kind == "pending_approval")
                timeout = self._env.approval(req.policy).timeout
                self._pending[req.id] = at + timedelta(seconds=timeout)
            elif rec.status in ("running", "verifying"):
                was = "executing" if rec.status == "running" else "verifying"
                self._event(
                    req.id,
                    "interrupted",
                    {"reason": f"engine stopped while {was}; not re-applied, verifying"},
                )
                self._outcome(req, "interrupted")
                self._running[req.id] = req
                self._tasks[req.id] = asyncio.create_task(self._verify_recovered(req))
            else:
                self._refuse(req, "recovery", "engine restarted before a decision was made")
        for rec in sorted(deferred, key=lambda r: r.events[0].seq if r.events else 0):
            self._requeue(rec)
        self._metrics.running.set(len(self._running))
        self._metrics.pending_approvals.set(len(self._pending))
        self._sweep_expired()
        self._action_finished()  # re-check the re-queued requests soon
        return [self._record(i) for i in out]

    def _requeue(self, rec: ActionRecord) -> None:
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
        self._deferred[req.id] = _Deferred(req, rail, reason, since, approved, _rails_key(req))

    async def _verify_recovered(self, req: ActionRequest) -> None:
        try:
            await self._verify(req, None)
        finally:
            self._running.pop(req.id, None)
            self._tasks.pop(req.id, None)
            self._metrics.running.set(len(self._running))
            self._action_finished()
