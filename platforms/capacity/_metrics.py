"""Self-instrumentation of the capacity outlook (prometheus-client, injectable registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["CapacityMetrics"]


class CapacityMetrics:
    """``paramedic_capacity_outlooks_total`` (computed), ``..._errors_total{reason}`` (query failed:
    ``query``; refused to a tenant scope: ``scope``), ``..._outlook_duration_seconds``, and the last
    outlook's ``paramedic_capacity_free_chunks`` and ``paramedic_capacity_cells_needed``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.outlooks = Counter(
            "paramedic_capacity_outlooks", "Capacity outlooks computed.", registry=registry
        )
        self.errors = Counter(
            "paramedic_capacity_errors",
            "Capacity requests that failed, by reason.",
            ["reason"],
            registry=registry,
        )
        self.duration = Histogram(
            "paramedic_capacity_outlook_duration_seconds",
            "Time to read the cells and fit their growth.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.free_chunks = Gauge(
            "paramedic_capacity_free_chunks", "Free memory chunks at the last outlook.", registry=registry
        )
        self.cells_needed = Gauge(
            "paramedic_capacity_cells_needed",
            "Cells to add within the horizon to keep N+1, at the last outlook.",
            registry=registry,
        )
