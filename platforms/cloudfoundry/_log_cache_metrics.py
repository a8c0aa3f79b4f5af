"""Self-instrumentation of the Log Cache poller (beyond :mod:`platforms.cloudfoundry._metrics`' samples and
errors): queries by kind and outcome, backfilled samples, and how many queries it polls."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from platforms.instrument import per_registry

__all__ = ["LogCacheMetrics", "log_cache_metrics"]


class LogCacheMetrics:
    """``paramedic_cf_log_cache_queries_total{kind="instant"|"range", outcome="ok"|"error"}``,
    ``paramedic_cf_log_cache_backfilled_samples_total`` (samples appended from ``query_range``) and
    ``paramedic_cf_log_cache_polled_queries`` (queries polled each interval, per-app ones counted once)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.queries = Counter(
            "paramedic_cf_log_cache_queries_total",
            "Log Cache PromQL queries run by the poller, by kind (instant, range) and outcome.",
            ["kind", "outcome"],
            registry=registry,
        )
        self.backfilled = Counter(
            "paramedic_cf_log_cache_backfilled_samples_total",
            "Samples appended from Log Cache query_range to fill a gap (start, restart, failed polls).",
            registry=registry,
        )
        self.configured = Gauge(
            "paramedic_cf_log_cache_polled_queries",
            "Queries the Log Cache poller runs each interval (a per-app query counted once).",
            registry=registry,
        )


log_cache_metrics = per_registry(LogCacheMetrics)
"""The poller metrics registered in a registry (one set per registry)."""
