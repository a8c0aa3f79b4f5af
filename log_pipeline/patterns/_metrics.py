"""Self-instrumentation of the pattern miner and pattern statistics (``paramedic_log_pattern*``)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["PatternMetrics"]


class PatternMetrics:
    """Metric families registered in ``registry`` (give each instance its own registry in tests).

    Wire a miner with ``TemplateMiner(on_new=m.pattern_created, on_evict=m.pattern_evicted)``.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.created = Counter(
            "paramedic_log_patterns_created", "Patterns created by the miner.", registry=registry
        )
        self.evicted = Counter(
            "paramedic_log_patterns_evicted",
            "Patterns evicted from the miner's table (least recently used, table full).",
            registry=registry,
        )
        self.live = Gauge("paramedic_log_patterns", "Patterns in the miner's table.", registry=registry)
        self.miner_bytes = Gauge(
            "paramedic_log_pattern_miner_bytes",
            "Estimated bytes held by the pattern miners, all tenants (bounded: docs/security.md).",
            registry=registry,
        )
        self.stats_evicted = Counter(
            "paramedic_log_pattern_stats_evicted",
            "(app, pattern) statistics entries evicted (least recently seen, table full).",
            registry=registry,
        )
        self.stats_flushes = Counter(
            "paramedic_log_pattern_stats_flushes",
            "Writes of pattern counts to the metrics store.",
            registry=registry,
        )
        self.stats_errors = Counter(
            "paramedic_log_pattern_stats_errors",
            "Failed writes of pattern counts to the metrics store.",
            registry=registry,
        )

    def pattern_created(self, pattern_id: str) -> None:
        self.created.inc()
        self.live.inc()

    def pattern_evicted(self, pattern_id: str) -> None:
        self.evicted.inc()
        self.live.dec()

    def watch_memory(self, memory_bytes: Callable[[], int]) -> None:
        """Report ``memory_bytes()`` (e.g. :meth:`TenantMiners.memory_bytes`) when the registry is read."""
        self.miner_bytes.set_function(memory_bytes)
