"""``PushIngest``: the metric source behind the push receivers (remote write, OTLP/HTTP metrics).

It is a :class:`collector.base.MetricSource` like the scrape manager: the assembly builds it with the
committed-samples appender and starts and stops it with the other sources. Between ``start`` and ``stop`` it
appends what the receivers decoded; before ``start`` and after ``stop`` a request is refused with 503
(Prometheus and the OpenTelemetry exporters retry a 503), so nothing is appended to a store being closed.

Tenancy (:func:`check_tenancy`): a foundation principal (admin, operator, metrics-writer) may push any
series; a scoped principal only series whose ``org``/``space`` its operator grants cover: one series outside
refuses the whole request with 403 and nothing is stored.

Self-metrics, in the scrape manager's families (one ``job`` per protocol: ``remote_write``, ``otlp``):
``paramedic_scrape_samples_appended_total{job}``, ``paramedic_scrape_errors_total{job,reason}``,
``paramedic_scrape_samples_dropped_total{job,reason}`` (native histograms, delta temporality, ...); and
``paramedic_push_requests_total{job,code}``, ``paramedic_push_request_seconds{job}``,
``paramedic_push_remote_write_requests_total{version}`` and
``paramedic_push_log_records_total{job}`` (OTLP logs, ``job="otlp_logs"``).

Thread safety: :meth:`append` runs in a worker thread per request; the ref cache takes a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram

from collector._metrics import ScrapeMetrics
from collector.push.errors import PushRefusedError
from collector.push.model import Decoded, PushedSeries
from metrics_store.base import Appender, StoreError
from metrics_store.model import Labels, labels_from
from platforms.tenancy import ORG_LABEL, SPACE_LABEL, Scope

__all__ = ["PushIngest", "check_tenancy"]

MAX_CACHED_REFS = 1_000_000
_SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def check_tenancy(
    series: list[PushedSeries], scope: Scope, reserved_jobs: frozenset[str] = frozenset()
) -> None:
    """403 when ``scope`` may not write one of ``series`` (checked before anything is stored). A space's
    writer may not use the ``job`` of a configured scrape job (``reserved_jobs``): foundation rules select
    by job, so a pushed ``up{job="node", org=..., space=...}`` would otherwise fire foundation alerts."""
    if scope.is_foundation:
        return
    for s in series:
        job = s.labels.get("job", "")
        if job in reserved_jobs:
            raise PushRefusedError(
                403,
                "tenancy",
                f"series {s.labels.get('__name__', '')!r} has job={job!r}, the name of a scrape job this "
                f"server runs: reserved for what it scrapes ({scope.describe()}); nothing was stored",
            )
        if not scope.operates_labels(s.labels):
            org, space = s.labels.get(ORG_LABEL, ""), s.labels.get(SPACE_LABEL, "")
            where = f"org={org!r} space={space!r}" if org else "no org (foundation data)"
            raise PushRefusedError(
                403,
                "tenancy",
                f"series {s.labels.get('__name__', '')!r} has {where}: outside this principal's scope "
                f"({scope.describe()}); nothing was stored",
            )


class PushMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "paramedic_push_requests",
            "Push requests answered, by job and HTTP status.",
            ["job", "code"],
            registry=registry,
        )
        self.seconds = Histogram(
            "paramedic_push_request_seconds",
            "Push request handling time (decode, check, append).",
            ["job"],
            buckets=_SECONDS,
            registry=registry,
        )
        self.remote_write_versions = Counter(
            "paramedic_push_remote_write_requests",
            "Remote-write requests stored, by protocol version (1.0, 2.0).",
            ["version"],
            registry=registry,
        )
        self.log_records = Counter(
            "paramedic_push_log_records",
            "OTLP log records appended to the log pipeline's spool.",
            ["job"],
            registry=registry,
        )


class PushIngest:
    """Appends decoded push requests to ``appender`` while started (see the module docstring)."""

    def __init__(
        self,
        appender: Appender,
        *,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
        scrape_metrics: ScrapeMetrics | None = None,
        reserved_jobs: Callable[[], frozenset[str]] = frozenset,
    ) -> None:
        """``reserved_jobs``: the scrape jobs' names now (read per request: config reloads change them)."""
        self._appender = appender
        self._reserved_jobs = reserved_jobs
        self.metrics = scrape_metrics if scrape_metrics is not None else ScrapeMetrics(registry)
        self.push_metrics = PushMetrics(registry)
        self._refs: dict[Labels, int] = {}
        self._lock = threading.Lock()
        self._running = False

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def refused(self, job: str, exc: PushRefusedError) -> None:
        self.metrics.errors.labels(job, exc.reason).inc()
        self.push_metrics.requests.labels(job, str(exc.status)).inc()

    def _ref(self, labels: Labels) -> int:
        with self._lock:
            ref = self._refs.get(labels)
        if ref is None:
            ref = self._appender.series_ref(labels)
            with self._lock:
                if len(self._refs) >= MAX_CACHED_REFS:
                    self._refs.clear()
                self._refs[labels] = ref
        return ref

    def append(self, job: str, decoded: Decoded, scope: Scope) -> int:
        """Check tenancy, then append every sample of ``decoded`` in one call (blocking: a worker thread);
        returns the samples appended. :class:`PushRefusedError`: 403 tenancy, 503 stopped or the store
        failed."""
        if not self._running:
            raise PushRefusedError(
                503, "not_running", "the push receiver is not running (starting or stopping)"
            )
        check_tenancy(decoded.series, scope, self._reserved_jobs())
        refs: list[int] = []
        timestamps: list[int] = []
        values: list[float] = []
        for s in decoded.series:
            ref = self._ref(labels_from(s.labels))
            refs.extend([ref] * len(s.values))
            timestamps.extend(s.timestamps_ms)
            values.extend(s.values)
        for reason, n in decoded.skipped.items():
            self.metrics.samples_dropped.labels(job, reason).inc(n)
        if refs:
            try:
                self._appender.append(refs, timestamps, values)
            except StoreError as exc:
                raise PushRefusedError(503, "append", f"the store refused the samples: {exc}") from exc
            self.metrics.samples_appended.labels(job).inc(len(refs))
        return len(refs)
