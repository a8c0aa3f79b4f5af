"""Self-instrumentation shared by the store backends (``paramedic_store_*``, label ``backend``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["StoreMetrics"]

_QUERY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class StoreMetrics:
    """Metric families of one store instance, registered in ``registry``.

    Two stores registering in the same registry would collide; give each its own registry (tests) or open one
    store per process (production)."""

    def __init__(self, registry: CollectorRegistry, backend: str) -> None:
        self.backend = backend
        b = ["backend"]
        self.samples_appended = Counter(
            "paramedic_store_samples_appended", "Samples accepted by append().", b, registry=registry
        ).labels(backend)
        self.samples_dropped = Counter(
            "paramedic_store_samples_dropped",
            "Samples accepted but not stored because the backend cannot represent them.",
            [*b, "reason"],
            registry=registry,
        )
        self.series_created = Counter(
            "paramedic_store_series_created", "New series given a ref.", b, registry=registry
        ).labels(backend)
        self.wal_bytes = Counter(
            "paramedic_store_wal_bytes", "Bytes written to the write-ahead log.", b, registry=registry
        ).labels(backend)
        self.wal_segment_bytes = Gauge(
            "paramedic_store_wal_size_bytes", "Current size of the write-ahead log.", b, registry=registry
        ).labels(backend)
        self.head_samples = Gauge(
            "paramedic_store_head_samples",
            "Samples in memory not yet folded into the database.",
            b,
            registry=registry,
        ).labels(backend)
        self.checkpoints = Counter(
            "paramedic_store_checkpoints", "WAL folds into the database.", b, registry=registry
        ).labels(backend)
        self.checkpoint_duration = Histogram(
            "paramedic_store_checkpoint_duration_seconds",
            "Time to fold the WAL into the database.",
            b,
            registry=registry,
        ).labels(backend)
        self.maintenance_runs = Counter(
            "paramedic_store_maintenance_runs",
            "Retention and downsampling passes.",
            [*b, "task"],
            registry=registry,
        )
        self.samples_removed = Counter(
            "paramedic_store_samples_removed",
            "Samples deleted by retention or replaced by downsampling.",
            [*b, "task"],
            registry=registry,
        )
        self.query_duration = Histogram(
            "paramedic_store_query_duration_seconds",
            "select()/series() latency.",
            [*b, "op"],
            buckets=_QUERY_BUCKETS,
            registry=registry,
        )
        self.write_retries = Counter(
            "paramedic_store_write_retries",
            "Remote writes retried after a 5xx or timeout.",
            b,
            registry=registry,
        ).labels(backend)
        self.errors = Counter(
            "paramedic_store_errors", "Errors by reason.", [*b, "reason"], registry=registry
        )

    def error(self, reason: str) -> None:
        self.errors.labels(self.backend, reason).inc()

    def dropped(self, reason: str, n: int) -> None:
        self.samples_dropped.labels(self.backend, reason).inc(n)
