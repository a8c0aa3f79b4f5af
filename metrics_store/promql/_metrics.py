"""Self-instrumentation of the query engine (``paramedic_promql_*``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["QueryEngineMetrics"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class QueryEngineMetrics:
    """Metric families of one engine, registered in ``registry`` (one engine per registry)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.queries = Counter(
            "paramedic_promql_queries", "Queries received, by kind.", ["kind"], registry=registry
        )
        self.errors = Counter(
            "paramedic_promql_query_errors",
            "Queries that failed, by Prometheus error type.",
            ["kind", "reason"],
            registry=registry,
        )
        self.duration = Histogram(
            "paramedic_promql_query_duration_seconds",
            "Query latency (parse + evaluation), by kind.",
            ["kind"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.refused = Counter(
            "paramedic_promql_queries_refused",
            "Queries refused by a limit: query_text (size/nesting/operators), points_per_series, "
            "max_samples (samples loaded or steps allocated), timeout, recursion, inflight_samples, "
            "tenant_inflight_samples (a tenant scope's share of the in-flight pool).",
            ["reason"],
            registry=registry,
        )
        self.samples_loaded = Counter(
            "paramedic_promql_samples_loaded", "Samples read from the store by queries.", registry=registry
        )
