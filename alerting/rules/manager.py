"""The rule manager: loads rule files, evaluates each group on its interval, writes recording-rule and
``ALERTS`` series through an Appender, sends alerts to an :class:`~alerting.base.AlertSink` like Prometheus'
notifier (every ``resend_delay``, ``ends_at`` for resolved alerts), and persists alert state.

Evaluation on arrival: besides its interval ticks, a group without an explicit ``interval:`` (it follows the
global evaluation interval) is evaluated right after new samples are committed (:meth:`RuleManager.notify`,
called by the collector after each scrape), at most once per ``arrival_min_interval_s``, so an alert is
detected about one scrape interval after its cause instead of one evaluation interval. Groups that set
``interval:`` keep exactly that cadence (their author chose it, e.g. for expensive rules). Arrival and tick
evaluations run in the same task, one at a time; ``for:`` durations count in wall time either way.

Startup and reload take the same path (:meth:`RuleManager.apply_config`); state of a rule that keeps its
group key (file;group) and name carries over a reload. Time comes from the injected ``clock`` (seconds),
so tests drive evaluation with :meth:`RuleManager.eval_due` and :meth:`RuleManager.eval_arrived`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from prometheus_client import REGISTRY, CollectorRegistry

from alerting.base import AlertSink
from alerting.rules._alerting import GRACE_PERIOD_MS, OUTAGE_TOLERANCE_MS, AlertingRule, AlertState
from alerting.rules._cache import CycleCache
from alerting.rules._fast import Columns, FastPath
from alerting.rules._group import RuleGroup, SharedQuery
from alerting.rules._kinds import Detector
from alerting.rules._load import load_files
from alerting.rules._metrics import RuleMetrics
from alerting.rules._state import load_state, save_state
from metrics_store.base import Appender
from metrics_store.model import METRIC_NAME
from metrics_store.promql import Matrix, QueryError, QueryValue
from metrics_store.promql.semantics import PROMETHEUS_3, Semantics

__all__ = ["InstantQuerier", "RuleManager", "RuleOptions"]

log = logging.getLogger(__name__)


class InstantQuerier(Protocol):
    def instant_query(self, query: str, time_ms: int) -> QueryValue: ...


@dataclass(frozen=True, slots=True)
class RuleOptions:
    """How a :class:`RuleManager` evaluates and notifies (the defaults are Prometheus')."""

    interval_s: float = 60.0  # the global evaluation interval (groups without ``interval:``)
    resend_delay_s: float = 60.0  # a firing alert is sent again after this long
    state_path: Path | None = None  # where alert state persists across restarts (None: nowhere)
    external_labels: Mapping[str, str] | None = None  # added to every alert sent
    external_url: str = ""  # generatorURL and template ``externalURL``
    detectors: Mapping[str, Callable[[], Detector]] | None = None  # anomaly detectors by name
    cycle_cache: CycleCache | None = None  # one store read per selector and cycle; enables the fast path
    arrival_min_interval_s: float = 1.0  # evaluation on arrival at most this often (0: never)
    semantics: Semantics = PROMETHEUS_3  # the engine's PromQL rules, for the fast path (promql.semantics)


class RuleManager:
    def __init__(
        self,
        files: Sequence[str],
        engine: InstantQuerier,
        appender: Appender | None,
        sink: AlertSink | None,
        clock: Callable[[], float] = time.time,
        registry: CollectorRegistry = REGISTRY,
        *,
        options: RuleOptions | None = None,
    ) -> None:
        opts = options or RuleOptions()
        cycle_cache, state_path = opts.cycle_cache, opts.state_path
        self._engine = engine
        self._cycle_cache = cycle_cache
        self._appender = appender
        self._sink = sink
        self._clock = clock
        self._metrics = RuleMetrics(registry)
        self._interval_ms = round(opts.interval_s * 1000)
        self._resend_ms = round(opts.resend_delay_s * 1000)
        self._state_path = state_path
        # One evaluation cycle (and its state save) at a time: stop() saves while a cycle it cancelled may
        # still be running in its worker thread.
        self._cycle = threading.RLock()
        self._external_labels = dict(opts.external_labels or {})
        self._external_url = opts.external_url
        self._detectors = dict(opts.detectors or {})
        fast = FastPath(cycle_cache, semantics=opts.semantics) if cycle_cache is not None else None
        self._fast = fast

        def query(expr: str, ts: int) -> QueryValue | Columns:
            got = fast(expr, ts) if fast is not None else None
            return got if got is not None else self._engine.instant_query(expr, ts)

        self._query = SharedQuery(query)
        self._groups: list[RuleGroup] = []
        self._task: asyncio.Task[None] | None = None
        self._arrival_min_ms = round(opts.arrival_min_interval_s * 1000)
        self._arrived = asyncio.Event()  # set on the event loop by notify()
        self._cost_ms: dict[str, int] = {}  # last evaluation time per group key
        self._saved_at_ms, self._saved = load_state(state_path) if state_path else (0, {})
        self._load(files)
        # Every group's first evaluation restores the for-state: from the state file when it has the
        # group, else from the store's ALERTS_FOR_STATE series (as Prometheus does).
        self._to_restore = {g.key for g in self._groups} | set(self._saved)

    @property
    def groups(self) -> list[RuleGroup]:
        return list(self._groups)

    def _load(self, files: Sequence[str]) -> None:
        specs = load_files(files)  # raises RuleFileError before anything changes
        old = {g.key: g for g in self._groups}
        groups = []
        for spec in specs:
            g = RuleGroup(
                spec,
                interval_ms=self._interval_ms,
                appender=self._appender,
                metrics=self._metrics,
                external_labels=self._external_labels,
                external_url=self._external_url,
                detectors=self._detectors,
            )
            prev = old.get(g.key)
            if prev is not None:
                prev_rules = {ar.name: ar for ar in prev.alerting_rules()}
                for ar in g.alerting_rules():
                    if (p := prev_rules.get(ar.name)) is not None:
                        ar.active, ar.restored = p.active, p.restored
                g.last_eval_ms = prev.last_eval_ms
            groups.append(g)
        self._groups = groups

    def _begin_cycle(self) -> None:
        self._query.reset()
        if self._cycle_cache is not None:
            self._cycle_cache.reset()
        if self._fast is not None:
            self._fast.reset()

    def _eval_group(self, g: RuleGroup, ts: int) -> None:
        began = time.perf_counter()
        g.eval(ts, self._query)
        if g.key in self._to_restore:
            self._restore(g, ts)
        else:
            for ar in g.alerting_rules():
                ar.restored = True
        took = time.perf_counter() - began
        self._cost_ms[g.key] = round(took * 1000)
        self._metrics.duration.labels(g.name).observe(took)
        alerts = g.alerts_to_send(ts, self._resend_ms)
        if alerts and self._sink is not None:
            self._sink.put(alerts)
            self._metrics.sent.inc(len(alerts))

    def eval_due(self, now_s: float | None = None) -> int:
        """Evaluate every group whose next slot (a multiple of its interval) has come; returns how many."""
        now_ms = round((self._clock() if now_s is None else now_s) * 1000)
        with self._cycle:
            self._begin_cycle()
            n = 0
            for g in self._groups:
                ts = now_ms - now_ms % g.interval_ms
                if ts <= g.last_eval_ms:
                    continue
                self._eval_group(g, ts)
                n += 1
            if n and self._state_path is not None:
                self.save_state(now_ms)
        return n

    def _on_arrival(self, g: RuleGroup) -> bool:
        return self._arrival_min_ms > 0 and g.spec.interval_ms is None

    def _arrival_gap_ms(self, g: RuleGroup) -> int:
        """At most one arrival evaluation per min interval, and at most half the time spent evaluating."""
        return max(self._arrival_min_ms, 2 * self._cost_ms.get(g.key, 0))

    def eval_arrived(self, now_s: float | None = None) -> int:
        """Evaluate, at ``now``, the groups that follow arrivals and were not evaluated within the last
        ``arrival_min_interval_s`` (or twice their last evaluation time, if longer); returns how many."""
        now_ms = round((self._clock() if now_s is None else now_s) * 1000)
        with self._cycle:
            self._begin_cycle()
            n = 0
            for g in self._groups:
                if self._on_arrival(g) and now_ms - g.last_eval_ms >= self._arrival_gap_ms(g):
                    self._eval_group(g, now_ms)
                    n += 1
            if n and self._state_path is not None:
                self.save_state(now_ms)
        return n

    def arrival_wait_s(self) -> float | None:
        """Seconds until an arrival evaluation may run (0: now); None when no group follows arrivals."""
        now_ms = round(self._clock() * 1000)
        waits = [
            g.last_eval_ms + self._arrival_gap_ms(g) - now_ms for g in self._groups if self._on_arrival(g)
        ]
        return max(min(waits), 0) / 1000 if waits else None

    def notify(self, job: str) -> None:
        """New samples of ``job`` are in the store. Call on the event loop of :meth:`start`; cheap (sets a
        flag), so the collector can call it after every scrape. Every arrival group is evaluated, whatever
        the job: which rules a job's series can affect is not known before evaluating them."""
        self._arrived.set()

    def _restore(self, g: RuleGroup, ts_ms: int) -> None:
        self._to_restore.discard(g.key)
        saved = self._saved.get(g.key)
        for ar in g.alerting_rules():
            if saved is not None:
                n = ar.restore(saved.get(ar.name, []), self._saved_at_ms, ts_ms)
                src = "the state file"
            else:
                n = self._restore_from_store(ar, ts_ms)
                src = "ALERTS_FOR_STATE"
            if n:
                log.info("rule %s/%s: restored the for-state of %d alerts from %s", g.name, ar.name, n, src)

    def _restore_from_store(self, ar: AlertingRule, ts_ms: int) -> int:
        """Prometheus' way without a state file: each pending/firing alert's ``active_at`` is the last value
        of its ``ALERTS_FOR_STATE`` series within the outage tolerance, the outage ending at that sample."""
        ar.restored = True
        if ar.hold_ms < GRACE_PERIOD_MS or not any(
            a.state is not AlertState.INACTIVE for a in ar.active.values()
        ):
            return 0
        expr = f'ALERTS_FOR_STATE{{alertname="{ar.name}"}}[{OUTAGE_TOLERANCE_MS // 1000}s]'
        try:
            res = self._engine.instant_query(expr, ts_ms - 1)  # strictly before this first evaluation
        except QueryError as exc:
            log.warning("rule %s: cannot read ALERTS_FOR_STATE to restore the for-state: %s", ar.name, exc)
            return 0
        n = 0
        for series in res.series if isinstance(res, Matrix) else ():
            last = next(
                ((t, v) for t, v in zip(reversed(series.timestamps_ms), reversed(series.values), strict=True)
                 if math.isfinite(v)),
                None,
            )  # fmt: skip
            if last is None:
                continue
            labels = {k: v for k, v in series.labels if k != METRIC_NAME}
            entry = {"labels": labels, "state": AlertState.PENDING.value, "active_at_ms": int(last[1] * 1000)}
            n += ar.restore([entry], last[0], ts_ms)
        return n

    def save_state(self, now_ms: int) -> None:
        if self._state_path is None:
            return
        with self._cycle:
            doc = {g.key: {ar.name: ar.snapshot() for ar in g.alerting_rules()} for g in self._groups}
            save_state(self._state_path, now_ms, doc)

    def next_due_s(self) -> float:
        now_ms = round(self._clock() * 1000)
        if not self._groups:
            return self._interval_ms / 1000
        waits = [g.interval_ms - now_ms % g.interval_ms for g in self._groups]
        return min(waits) / 1000

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="rule-manager")

    async def _run(self) -> None:
        arrived = False
        while True:
            try:
                await asyncio.to_thread(self.eval_arrived if arrived else self.eval_due)
            except Exception:  # keep evaluating: one bad cycle must not stop alerting
                log.exception("rule evaluation cycle failed")
            arrived = await self._wait()

    async def _wait(self) -> bool:
        """Sleep until the next interval slot (False) or until samples arrived and the debounce allows an
        arrival evaluation before that slot (True)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.next_due_s()
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            if not self._arrived.is_set():
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except TimeoutError:
                    return False
            wait = self.arrival_wait_s()
            if wait is None:  # no group follows arrivals
                self._arrived.clear()
                continue
            if wait >= deadline - loop.time():
                await asyncio.sleep(max(deadline - loop.time(), 0))
                self._arrived.clear()
                return False  # the slot comes first; it also sees these samples
            if wait > 0:
                await asyncio.sleep(wait)
            self._arrived.clear()
            return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # off the event loop: it waits for a cycle still running in its worker thread
        await asyncio.to_thread(self.save_state, round(self._clock() * 1000))

    async def apply_config(self, files: Sequence[str]) -> None:
        self._load(files)
