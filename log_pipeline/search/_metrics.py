"""Self-instrumentation of the search stores (one set per store instance and registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["StoreMetrics"]


class StoreMetrics:
    def __init__(self, registry: CollectorRegistry, backend: str) -> None:
        self.written = Counter(
            "paramedic_log_store_records_written_total",
            "Log records durably written to the search store.",
            ["backend"],
            registry=registry,
        ).labels(backend)
        self._errors = Counter(
            "paramedic_log_store_errors_total",
            "Search store failures by operation.",
            ["backend", "reason"],
            registry=registry,
        )
        self._dropped = Counter(
            "paramedic_log_store_partitions_dropped_total",
            "Whole partitions removed by retention.",
            ["backend", "reason"],
            registry=registry,
        )
        self.query_seconds = Histogram(
            "paramedic_log_store_query_seconds",
            "Search, histogram and context latency.",
            ["backend"],
            registry=registry,
        ).labels(backend)
        self.backend = backend

    def error(self, reason: str) -> None:
        self._errors.labels(self.backend, reason).inc()

    def dropped(self, reason: str) -> None:
        self._dropped.labels(self.backend, reason).inc()
