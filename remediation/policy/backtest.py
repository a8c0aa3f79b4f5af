"""``paramedic policy backtest``: replay stored history through the rules and the policies.

The alerting rules are evaluated at every evaluation step of the window with a virtual clock (the rule
manager's own state machine: pending, ``for:``, firing, resolved, re-sends), and every alert it would have
sent goes to a :class:`~remediation.engine.RemediationEngine` in simulation with the same clock. Every policy
acts as if live during the replay (so the rails decide as they would have); the report shows each policy's
configured mode beside what it would have done.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry

from alerting.model import Alert
from alerting.rules import RuleManager, RuleOptions
from alerting.rules.manager import InstantQuerier
from metrics_store.promql import QueryError, Vector
from remediation.audit import MemoryAuditLog
from remediation.config import GlobalRails, Policy
from remediation.policy._sim import Decision, VirtualClock, decision_of, simulation_engine
from remediation.sim import SimPlatform

__all__ = ["BacktestResult", "BacktestRow", "run_backtest"]


@dataclass(frozen=True, slots=True)
class BacktestRow:
    decision: Decision
    mode: str  # the policy's configured mode
    alertname: str


@dataclass
class BacktestResult:
    start: datetime
    end: datetime
    steps: int
    alerts_sent: int
    rows: list[BacktestRow] = field(default_factory=list)

    def refusals_by_rail(self) -> Counter[str]:
        """Requests a rail kept from running: refused, or deferred and never run (deferred, expired)."""
        held = ("refused", "deferred", "expired")
        return Counter(
            r.decision.rail for r in self.rows if r.decision.decision in held and r.decision.rail is not None
        )


class _Collect:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def put(self, alerts: Sequence[Alert]) -> None:
        self.alerts.extend(alerts)


def _instance_counts(query: InstantQuerier, start: datetime, end: datetime) -> dict[str, int]:
    """Instances per app seen in the window (``up`` series with an ``app`` label)."""
    window_s = max(1, int((end - start).total_seconds()))
    try:
        value = query.instant_query(
            f'count by (app) (count_over_time(up{{app!=""}}[{window_s}s]))', int(end.timestamp() * 1000)
        )
    except QueryError:
        return {}
    if not isinstance(value, Vector):
        return {}
    return {dict(s.labels).get("app", ""): int(s.value) for s in value.samples}


async def run_backtest(  # noqa: PLR0913 - what to replay over which window; the rest keyword-only, defaulted
    policies: Sequence[Policy],
    query: InstantQuerier,
    rule_files: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    interval_s: float = 15.0,
    resend_delay_s: float = 60.0,
    global_rails: GlobalRails | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Replay ``[start, end]``; ``on_step(done, total)`` after every evaluation step (progress bars)."""
    modes = {p.name: p.mode for p in policies}
    live = [p.model_copy(update={"mode": "live"}) for p in policies]
    sink = _Collect()
    clock = VirtualClock(start)
    manager = RuleManager(
        rule_files,
        query,
        None,
        sink,
        clock=lambda: clock.now.timestamp(),  # noqa: PLW0108 -- reads clock.now when called
        registry=CollectorRegistry(),
        options=RuleOptions(interval_s=interval_s, resend_delay_s=resend_delay_s),
    )
    platform = SimPlatform()
    counts = _instance_counts(query, start, end)
    for app, n in counts.items():
        platform.add_app(app, n)
    audit = MemoryAuditLog()
    engine = simulation_engine(live, platform, audit, clock, global_rails)
    app_labels = {p.target.app_label for p in policies}
    step = timedelta(seconds=interval_s)
    total = int((end - start) / step) + 1
    order: dict[str, str] = {}  # action id -> alertname
    sent = 0
    for i in range(total):
        clock.now = start + i * step
        sink.alerts.clear()
        manager.eval_due(clock.now.timestamp())
        alerts = list(sink.alerts)
        sent += len(alerts)
        for alert in alerts:  # apps the store did not show: enough instances for the alert's index
            for label in app_labels:
                name = alert.labels.get(label)
                if name and name not in platform.apps():
                    platform.add_app(name, max(2, counts.get(name, 0)))
        if alerts:
            for rec in await engine.handle(alerts):
                order.setdefault(
                    rec.request.id, str(rec.request.trigger.get("alert", {}).get("alertname", ""))
                )
        if on_step is not None:
            on_step(i + 1, total)
    rows = []
    for action_id, alertname in order.items():
        record = audit.get(action_id)
        if record is not None:
            d = decision_of(record)
            rows.append(BacktestRow(d, modes.get(d.policy, "live"), alertname))
    rows.sort(key=lambda r: r.decision.at)
    return BacktestResult(start, end, total, sent, rows)
