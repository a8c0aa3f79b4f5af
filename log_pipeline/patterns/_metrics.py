"""Self-instrumentation of the pattern miner and pattern statistics (``paramedic_log_pattern*``)."""

from __future__ import annotations

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
