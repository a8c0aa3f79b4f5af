"""``paramedic policy backtest`` as one call: pick the policies, open the history (a store from its config or
a server's query API), replay it through :func:`~remediation.policy.backtest.run_backtest`, and summarise
what would have happened in a :class:`BacktestReport` the command prints.

The command keeps reading ``paramedic.yaml`` (which files, which store, which rules); this module only sees
the values it needs, so nothing here imports the wiring package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry

from metrics_store.base import Querier, StoreError
from metrics_store.config import StoreConfig
from metrics_store.factory import open_store
from metrics_store.promql import Engine
from metrics_store.remote.prom_api import PrometheusAPIQuerier, WindowCachingQuerier
from platforms.base import EventSource, PlatformEvent
from platforms.events import PlatformEventFeed
from remediation.base import RemediationError
from remediation.config import GlobalRails, Policy
from remediation.policy.backtest import BacktestResult, run_backtest
from remediation.policy.loader import PolicyError, load_policies

__all__ = [
    "REPORT_COLUMNS",
    "BacktestError",
    "BacktestReport",
    "BacktestRequest",
    "HistoryReadError",
    "HistorySource",
    "backtest_history",
    "select_policies",
]

REPORT_COLUMNS = ("time (UTC)", "policy", "mode", "alert", "action", "target", "would", "rail / reason")
URL_LOOKBACK_MS = 3_600_000  # the longest rule range the replay serves from one fetch per selector
MAX_EVENTS_PER_APP = 50  # platform events shown per app on the replay timeline
MAX_EVENT_APPS = 20  # apps whose platform events are read (the first ones acted on)


class BacktestError(RemediationError):
    """The policy files are invalid or the named policy is not among them: ``problems`` holds one line per
    issue."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class HistoryReadError(RemediationError):
    """Reading the history failed during the replay (the message is the store's error, chained)."""


@dataclass(frozen=True, slots=True)
class HistorySource:
    """Where the replay reads samples: the query API at ``url`` (a running Paramedic, whose store is locked,
    or a Prometheus; ``token`` its bearer token), else the store ``store`` opened under ``base_dir``."""

    store: StoreConfig | None = None
    base_dir: Path = Path()
    url: str | None = None
    token: str | None = None


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    """One backtest: the policies (:func:`select_policies`), the rule files that raise the alerts with their
    evaluation and re-send intervals, the global rails, and ``window_s`` back from now."""

    policies: Sequence[Policy]
    rule_files: Sequence[str]
    source: HistorySource
    window_s: float
    interval_s: float = 15.0
    resend_delay_s: float = 60.0
    global_rails: GlobalRails = field(default_factory=GlobalRails)
    events: EventSource | None = None  # the platform, when it records events: shown on the replay timeline


@dataclass(frozen=True, slots=True)
class BacktestReport:
    """What a backtest found, in the shapes the command prints (a table, a summary line, one line per
    policy, notes). ``platform_events`` are the platform's own events of the apps the policies acted on,
    shown between the decisions; ``notes`` say when they could not be read."""

    start: datetime
    end: datetime
    result: BacktestResult
    platform_events: Sequence[PlatformEvent] = ()
    notes: Sequence[str] = ()

    @property
    def title(self) -> str:
        start, end, steps = self.start, self.end, self.result.steps
        return f"Backtest {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC ({steps} steps)"

    def rows(self) -> list[tuple[str, ...]]:
        """One row per decision, and one per platform event (action ``platform: <kind>``, the event's
        summary as the reason), in time order, in :data:`REPORT_COLUMNS` order."""
        events = [
            (
                f"{datetime.fromtimestamp(e.time, UTC):%Y-%m-%d %H:%M:%S}",
                "",
                "",
                "",
                f"platform: {e.kind}",
                e.app,
                "",
                e.summary + (f" (by {e.actor})" if e.actor else ""),
            )
            for e in sorted(self.platform_events, key=lambda e: e.time)
        ]
        return sorted([*self._decision_rows(), *events], key=lambda row: row[0])  # stable: decisions first

    def _decision_rows(self) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        for row in self.result.rows:
            d = row.decision
            why = f"{d.rail}: {d.reason}" if d.rail else d.reason
            out.append(
                (
                    f"{d.at:%Y-%m-%d %H:%M:%S}",
                    d.policy,
                    row.mode,
                    row.alertname,
                    d.action,
                    d.target,
                    d.decision,
                    why,
                )
            )
        return out

    def summary(self) -> str:
        result = self.result
        refused = ", ".join(f"{rail}={n}" for rail, n in sorted(result.refusals_by_rail().items())) or "none"
        executed = sum(1 for r in result.rows if r.decision.decision == "executed")
        return f"{result.alerts_sent} alerts sent, {executed} actions, refusals by rail: {refused}"

    def per_policy(self) -> list[str]:
        """``name: 2 executed, 1 refused`` for every policy that decided something, by name."""
        by_policy: dict[str, dict[str, int]] = {}
        for row in self.result.rows:
            counts = by_policy.setdefault(row.decision.policy, {})
            counts[row.decision.decision] = counts.get(row.decision.decision, 0) + 1
        return [
            f"{name}: " + ", ".join(f"{n} {decision}" for decision, n in sorted(counts.items()))
            for name, counts in sorted(by_policy.items())
        ]


def select_policies(files: Sequence[Path], name: str | None = None) -> list[Policy]:
    """The policies of ``files`` (only the one called ``name`` when given); :class:`BacktestError` when the
    files are invalid or no policy has that name."""
    try:
        loaded = load_policies(files)
    except PolicyError as exc:
        raise BacktestError([str(p) for p in exc.problems]) from exc
    policies = [lp.policy for lp in loaded]
    if name is not None:
        policies = [p for p in policies if p.name == name]
        if not policies:
            raise BacktestError([f"no policy named {name!r}"])
    return policies


def _open(source: HistorySource, start: datetime, end: datetime) -> tuple[Querier, Callable[[], None]]:
    """The querier over ``source`` and how to close it."""
    if source.url is not None:
        remote = PrometheusAPIQuerier(source.url, token=source.token)
        window = WindowCachingQuerier(
            remote, int(start.timestamp() * 1000) - URL_LOOKBACK_MS, int(end.timestamp() * 1000)
        )
        return window, remote.close
    if source.store is None:
        raise ValueError("HistorySource needs a url or a store")
    store = open_store(source.store, source.base_dir, registry=CollectorRegistry())
    return store, store.close


def _platform_events(
    source: EventSource, result: BacktestResult, start: datetime, end: datetime
) -> tuple[list[PlatformEvent], list[str]]:
    """The platform's events of the apps the replay acted on (bounded, one app at a time), and notes."""
    apps = list(dict.fromkeys(row.decision.target.split("/", 1)[0] for row in result.rows))
    feed = PlatformEventFeed(source, registry=CollectorRegistry(), ttl_s=0.0)
    events: list[PlatformEvent] = []
    notes: list[str] = []
    for app in apps[:MAX_EVENT_APPS]:
        answer = feed.fetch(app, start.timestamp(), end.timestamp(), MAX_EVENTS_PER_APP)
        events.extend(answer.events)
        if answer.note:
            notes.append(f"{app}: {answer.note}")
    if len(apps) > MAX_EVENT_APPS:
        notes.append(f"platform events of the first {MAX_EVENT_APPS} of {len(apps)} apps only")
    return events, notes


def backtest_history(
    request: BacktestRequest,
    *,
    on_step: Callable[[int, int], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BacktestReport:
    """Run ``request`` over the last ``window_s`` before ``now()``; ``on_step(done, total)`` after every
    evaluation step. Raises :class:`HistoryReadError` when reading the history fails during the replay; a
    store that cannot be opened raises its own :class:`~metrics_store.base.StoreError`."""
    end = now()
    start = end - timedelta(seconds=request.window_s)
    querier, close = _open(request.source, start, end)
    try:
        result = asyncio.run(
            run_backtest(
                request.policies,
                Engine(querier, registry=CollectorRegistry()),
                request.rule_files,
                start,
                end,
                interval_s=request.interval_s,
                resend_delay_s=request.resend_delay_s,
                global_rails=request.global_rails,
                on_step=on_step,
            )
        )
    except StoreError as exc:
        raise HistoryReadError(str(exc)) from exc
    finally:
        close()
    if request.events is None:
        return BacktestReport(start, end, result)
    events, notes = _platform_events(request.events, result, start, end)
    return BacktestReport(start, end, result, events, notes)
