"""Per-(org, space, app, pattern) statistics: counts as time series in the metrics store, and a listing for
the API.

Time series: ``paramedic_log_pattern_messages_total{org="<org>", space="<space>", app="<app>",
pattern_id="<id>"}``, a counter of messages per app (of a space: the same app name in two spaces is two apps)
and pattern since this process started (resets on restart, as Prometheus counters do). Every
:meth:`PatternStats.flush` writes the current value of every tracked series with the flush timestamp, so
``rate()``/``increase()`` work and a rule can fire on a new pattern after a deploy
(``paramedic_log_pattern_messages_total unless paramedic_log_pattern_messages_total offset 1h``) or on a
rising error pattern. When an entry is evicted its series gets a staleness marker at the next flush.
An empty app ("unknown source") drops the ``app`` label, an empty org or space (foundation components)
its label. In a cluster every series also carries ``replica`` (the counters of one replica's lines).
:meth:`PatternStats.list_patterns` lists only the entries a tenant scope sees.

Memory is bounded by ``max_entries`` (least recently seen entry evicted). ``observe`` (pipeline thread),
``flush`` (timer thread) and ``list_patterns`` (HTTP threads) may run concurrently.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from log_pipeline.patterns._metrics import PatternMetrics
from metrics_store.base import Appender, StoreError
from metrics_store.model import METRIC_NAME, STALE_NAN, labels_from
from metrics_store.sched_slice import drop_slice_request
from platforms.tenancy import FOUNDATION, ORG_LABEL, SPACE_LABEL, Scope

__all__ = ["PATTERN_COUNT_METRIC", "PatternInfo", "PatternStats"]

PATTERN_COUNT_METRIC = "paramedic_log_pattern_messages_total"
_SAMPLE_CHARS = 512

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PatternInfo:
    """One (org, space, app, pattern) as listed by ``/api/v1/logs/patterns``."""

    app: str
    pattern_id: str
    template: str  # latest (most general) template
    count: int  # messages since this process started
    first_seen_ns: int  # Unix nanoseconds
    last_seen_ns: int
    sample: str  # the first message seen (truncated to 512 characters)
    org: str = ""  # "" for foundation components
    space: str = ""


class _Entry:
    __slots__ = ("count", "first_seen_ns", "last_seen_ns", "ref", "sample", "template")

    def __init__(self, template: str, sample: str, now_ns: int) -> None:
        self.template = template
        self.sample = sample[:_SAMPLE_CHARS]
        self.count = 0
        self.first_seen_ns = now_ns
        self.last_seen_ns = now_ns
        self.ref = -1  # series ref in the appender, resolved at the first flush


class PatternStats:
    """Counts messages per (org, space, app, pattern id); see the module docstring."""

    def __init__(
        self,
        appender: Appender | None = None,
        *,
        max_entries: int = 50_000,
        clock_ns: Callable[[], int] = time.time_ns,
        metrics: PatternMetrics | None = None,
        replica: str | None = None,
    ) -> None:
        """``replica`` (``cluster.replica_id``): every series also carries ``replica="<id>"``, so replicas
        that write into one shared store keep apart counters (each counts the lines it received)."""
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self._replica = replica
        self._appender = appender
        self._max = max_entries
        self._clock_ns = clock_ns
        self._metrics = metrics
        self._entries: OrderedDict[tuple[str, str, str, str], _Entry] = OrderedDict()
        self._stale_refs: list[int] = []  # series of evicted entries, marked stale at the next flush
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def observe(
        self,
        app: str,
        pattern_id: str,
        template: str,
        message: str,
        timestamp_ns: int | None = None,
        *,
        org: str = "",
        space: str = "",
    ) -> None:
        """Count one message of ``pattern_id`` from ``app`` of ``org``/``space`` (``timestamp_ns`` defaults
        to the clock)."""
        now = self._clock_ns() if timestamp_ns is None else timestamp_ns
        key = (org, space, app, pattern_id)
        with self._lock:
            e = self._entries.get(key)
            if e is None:
                if len(self._entries) >= self._max:
                    self._evict_oldest()
                e = self._entries[key] = _Entry(template, message, now)
            else:
                self._entries.move_to_end(key)
                e.template = template
                e.first_seen_ns = min(e.first_seen_ns, now)
            e.count += 1
            e.last_seen_ns = max(e.last_seen_ns, now)

    def _evict_oldest(self) -> None:
        _, old = self._entries.popitem(last=False)
        if old.ref >= 0:
            self._stale_refs.append(old.ref)
        if self._metrics is not None:
            self._metrics.stats_evicted.inc()

    def list_patterns(
        self, app: str | None = None, limit: int = 100, *, scope: Scope = FOUNDATION
    ) -> list[PatternInfo]:
        """Patterns of ``app`` (all apps when None) in the orgs/spaces ``scope`` sees, most frequent first,
        at most ``limit``."""
        with self._lock:
            items = [
                PatternInfo(
                    a, pid, e.template, e.count, e.first_seen_ns, e.last_seen_ns, e.sample, org, space
                )
                for (org, space, a, pid), e in self._entries.items()
                if (app is None or a == app) and scope.sees(org or None, space or None)
            ]
        items.sort(key=lambda p: (-p.count, p.first_seen_ns, p.org, p.space, p.app, p.pattern_id))
        return items[: max(limit, 0)]

    def flush(self, now_ns: int | None = None) -> int:
        """Write every tracked count (and staleness markers of evicted series) to the appender at ``now_ns``;
        return the number of samples written. Raises :class:`metrics_store.base.StoreError` from the store."""
        if self._appender is None:
            return 0
        ts_ms = (self._clock_ns() if now_ns is None else now_ns) // 1_000_000
        with self._lock:
            pending = [(key, e) for key, e in self._entries.items()]
            stale, self._stale_refs = self._stale_refs, []
            counts = [float(e.count) for _, e in pending]
        refs: list[int] = []
        for (org, space, app, pid), e in pending:
            if e.ref < 0:
                names = {METRIC_NAME: PATTERN_COUNT_METRIC, "app": app, "pattern_id": pid}
                names.update({ORG_LABEL: org, SPACE_LABEL: space})
                if self._replica:
                    names["replica"] = self._replica
                e.ref = self._appender.series_ref(labels_from(names))
            refs.append(e.ref)
        values = counts + [STALE_NAN] * len(stale)
        refs.extend(stale)
        if refs:
            try:
                self._appender.append(refs, [ts_ms] * len(refs), values)
            except StoreError:
                if self._metrics is not None:
                    self._metrics.stats_errors.inc()
                with self._lock:
                    self._stale_refs.extend(stale)
                raise
        if self._metrics is not None:
            self._metrics.stats_flushes.inc()
        return len(refs)

    def start(self, interval_s: float = 15.0) -> None:
        """Flush every ``interval_s`` seconds on a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval_s,), name="pattern-stats-flush", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the flush thread and write a final flush (idempotent)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join()
        self._flush_logged()

    def _run(self, interval_s: float) -> None:
        drop_slice_request()  # background, started from the event loop: reads may preempt it (sched_slice)
        while not self._stop.wait(interval_s):
            self._flush_logged()

    def _flush_logged(self) -> None:
        try:
            self.flush()
        except StoreError as exc:
            log.warning("pattern stats: writing counts to the metrics store failed: %s", exc)
