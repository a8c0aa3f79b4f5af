"""The SLO API's own metrics, in an injected registry."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge

from alerting.slo.spec import Slo

__all__ = ["SloMetrics"]


class SloMetrics:
    """``paramedic_slos`` (SLOs loaded), ``paramedic_slo_status_total`` (SLO statuses computed) and
    ``paramedic_slo_status_errors_total`` (statuses whose queries failed)."""

    def __init__(self, registry: CollectorRegistry, slos: Callable[[], Sequence[Slo]]) -> None:
        self.loaded = Gauge("paramedic_slos", "SLOs loaded from rules.slo_files.", registry=registry)
        self.loaded.set_function(lambda: float(len(slos())))
        self.computed = Counter(
            "paramedic_slo_status", "SLO statuses computed (API, app page).", registry=registry
        )
        self.errors = Counter(
            "paramedic_slo_status_errors", "SLO statuses whose queries failed.", registry=registry
        )
