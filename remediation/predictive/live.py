"""The predictive scale policy in the live engine: every ``predictive.interval`` (one APScheduler job per
policy) each of its apps' load history is read tenant-scoped from the metrics store, the app's forecaster is
fitted or updated, the load at ``now + startup`` is forecast, and
:func:`~remediation.predictive.policy.decide` says how many instances to run. When that differs from the
running count, a ``scale`` request (``instances`` set) goes to the engine's
:meth:`~remediation.engine.RemediationEngine.submit`: every rail, the policy's mode (dry_run by default) and
the audit trail apply; the request's trigger carries the forecast, the actual load, the recent error, the
reactive count and why.

The request id is stable per policy, app, transition (current -> wanted) and window of ten intervals, so a
dry-run policy records one decision per window rather than one per evaluation, and a deferred request is not
piled up again at every evaluation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from apscheduler.executors.asyncio import AsyncIOExecutor  # type: ignore[import-untyped]
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]
from prometheus_client import CollectorRegistry

from remediation.actions.scale import ScaleParams
from remediation.config import Policy
from remediation.model import ActionRequest, Target, request_id
from remediation.policy.loader import policy_version
from remediation.predictive.live_history import LoadHistory, aligned
from remediation.predictive.live_metrics import PredictiveMetrics
from remediation.predictive.live_model import AppModel, FactoryFor, default_factory
from remediation.predictive.policy import ScaleDecision, decide
from remediation.predictive.policy_check import app_query, predictive_apps

__all__ = ["AppDecision", "PredictiveScaler", "predictive_request"]

log = logging.getLogger(__name__)
_EXECUTOR = "predictive"  # its own executor: its per-run INFO lines (every interval) are kept out of the log
logging.getLogger(f"apscheduler.executors.{_EXECUTOR}").setLevel(logging.WARNING)

Submit = Callable[[ActionRequest], Awaitable[object]]
InstanceCount = Callable[[str], int]  # the app's running instance count (blocking: run in a thread)
Mode = Literal["dry_run", "live"]


class AppDecision:
    """One evaluation of one app: when, the running count, and the decision (None: no recent data)."""

    __slots__ = ("app", "at", "current", "decision", "policy", "request_id")

    def __init__(
        self,
        policy: str,
        app: str,
        at: float,
        current: int | None,
        decision: ScaleDecision | None,
        rid: str | None,
    ) -> None:
        self.policy, self.app, self.at = policy, app, at
        self.current, self.decision, self.request_id = current, decision, rid


def predictive_request(
    policy: Policy, app: str, at: float, current: int, decision: ScaleDecision, mode: Mode
) -> ActionRequest:
    """The ``scale`` request for ``decision`` (``instances`` = the decided count)."""
    spec = policy.predictive
    assert spec is not None  # only predictive policies are evaluated
    params: dict[str, Any] = policy.action.model_dump(mode="json")
    params.update(instances=decision.instances, adjustment=None)
    window = int(at // (10 * spec.interval))
    target = Target(app)
    trigger = {
        "predictive": {
            **decision.as_dict(),
            "current": current,
            "at": datetime.fromtimestamp(at, UTC).isoformat(),
            "for": datetime.fromtimestamp(at + spec.startup, UTC).isoformat(),
            "horizon_s": spec.startup,
            "mode": spec.mode,
            "query": app_query(spec.query, app),
        }
    }
    return ActionRequest(
        id=request_id(policy.name, target, f"predictive:{current}->{decision.instances}:{window}"),
        policy=policy.name,
        policy_version=policy_version(policy),
        action="scale",
        target=target,
        params=params,
        mode=mode,
        created_at=datetime.fromtimestamp(at, UTC),
        trigger=trigger,
    )


class PredictiveScaler:
    """Runs the predictive policies among ``policies`` (others are ignored). ``mode_of(name)``: the policy's
    mode after overrides (default: its configured mode)."""

    def __init__(
        self,
        policies: Sequence[Policy],
        submit: Submit,
        history: LoadHistory,
        instances: InstanceCount,
        *,
        registry: CollectorRegistry,
        factory_for: FactoryFor = default_factory,
        clock: Callable[[], float] = time.time,
        mode_of: Callable[[str], Mode | None] | None = None,
    ) -> None:
        self.policies = [p for p in policies if p.predictive is not None]
        self._submit = submit
        self._history = history
        self._instances = instances
        self._factory_for = factory_for
        self._clock = clock
        self._mode_of = mode_of
        self._metrics = PredictiveMetrics(registry)
        self._models: dict[tuple[str, str], AppModel] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self.recent: deque[AppDecision] = deque(maxlen=1000)  # newest last (status pages, tests)

    def model(self, policy: str, app: str) -> AppModel | None:
        return self._models.get((policy, app))

    async def evaluate(self, policy: Policy) -> list[AppDecision]:
        """One evaluation of ``policy`` for all its apps (a failing app is logged and skipped)."""
        started = time.monotonic()
        out = []
        for app in predictive_apps(policy):
            try:
                out.append(await self._evaluate_app(policy, app))
            except Exception:  # one app's failed read must not stop the others
                log.exception("predictive policy %s: evaluating %s failed", policy.name, app)
                self._metrics.failures.labels(policy.name).inc()
        self._metrics.duration.labels(policy.name).observe(time.monotonic() - started)
        self._observe(policy.name, [d.decision for d in out if d.decision is not None])
        self.recent.extend(out)
        return out

    async def _read(self, policy: Policy, app: str, start: float, end: float) -> list[tuple[float, float]]:
        spec = policy.predictive
        assert spec is not None
        expr = app_query(spec.query, app)
        scope = policy.tenant_scope()
        return await asyncio.to_thread(self._history.read, scope, expr, start, end, spec.interval)

    async def _evaluate_app(self, policy: Policy, app: str) -> AppDecision:
        spec = policy.predictive
        assert spec is not None and isinstance(policy.action, ScaleParams)
        end = aligned(self._clock(), spec.interval)
        model = self._models.get((policy.name, app))
        if model is None:  # in a thread: the first model imports river, its first fit scikit-learn (~1.7 s)
            model = await asyncio.to_thread(AppModel, spec, self._factory_for(spec))
            self._models[(policy.name, app)] = model
        if model.needs_fit(end):
            history = await self._read(policy, app, end - spec.history, end)
            await asyncio.to_thread(model.fit, history, end)  # a regression over the whole history
        else:
            start = end - spec.history if model.last_t is None else model.last_t + spec.interval
            model.feed(await self._read(policy, app, start, end))
        if model.last_t is None or model.last_value is None or end - model.last_t > 3 * spec.interval:
            self._metrics.decisions.labels(policy.name, "no_data").inc()
            return AppDecision(policy.name, app, end, None, None, None)
        current = await asyncio.to_thread(self._instances, app)
        decision = decide(
            spec,
            actual=model.last_value,
            forecast=model.forecast,
            error=model.ledger.error(),
            min_instances=policy.action.min_instances,
            max_instances=policy.action.max_instances,
        )
        self._metrics.decisions.labels(policy.name, decision.basis).inc()
        rid = None
        if decision.instances != current:
            mode = (self._mode_of(policy.name) if self._mode_of else None) or policy.mode
            request = predictive_request(policy, app, end, current, decision, mode)
            rid = request.id
            self._metrics.requests.labels(policy.name).inc()
            await self._submit(request)
        return AppDecision(policy.name, app, end, current, decision, rid)

    def _observe(self, policy: str, decisions: Sequence[ScaleDecision]) -> None:
        """The policy's gauges: sums over its apps (the open /metrics names no app), the worst error."""
        if not decisions:
            return
        m = self._metrics
        m.actual.labels(policy).set(sum(d.actual for d in decisions))
        m.forecast.labels(policy).set(sum(d.actual if d.forecast is None else d.forecast for d in decisions))
        m.instances.labels(policy).set(sum(d.instances for d in decisions))
        errors = [d.error for d in decisions if d.error is not None]
        if errors:
            m.error.labels(policy).set(max(errors))

    # -- scheduling ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        """One interval job per predictive policy, the first run now. Start on the engine's event loop."""
        if self._scheduler is not None or not self.policies:
            return
        scheduler = AsyncIOScheduler(timezone=UTC, executors={_EXECUTOR: AsyncIOExecutor()})
        for policy in self.policies:
            assert policy.predictive is not None
            scheduler.add_job(
                self.evaluate,
                IntervalTrigger(seconds=policy.predictive.interval, timezone=UTC),
                args=[policy],
                id=f"predictive:{policy.name}",
                executor=_EXECUTOR,
                name=f"predictive policy {policy.name}",
                coalesce=True,
                max_instances=1,
                next_run_time=datetime.now(UTC),
                misfire_grace_time=max(1, int(policy.predictive.interval)),
            )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
