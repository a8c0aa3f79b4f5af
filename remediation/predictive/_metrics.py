"""Prometheus metrics of the load forecasters (``paramedic_forecast_*``), registered in the registry given.

One :class:`ForecastMetrics` is shared by every forecaster of a process (the live policy keeps one model per
app); the simulator and the bench run without metrics.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["ForecastMetrics"]


class ForecastMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        p = "paramedic_forecast_"
        self.fits = Counter(
            p + "fits", "Batch (scikit-learn) trainings, by reason.", ["reason"], registry=registry
        )
        self.drifts = Counter(p + "drifts", "Forecast-error drifts detected by ADWIN.", registry=registry)
        self.fit_seconds = Histogram(
            p + "fit_seconds",
            "Time of one batch training.",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5),
            registry=registry,
        )
        self.predictions = Counter(
            p + "predictions",
            "Forecasts asked for, by result (ok or cold: no forecast yet).",
            ["result"],
            registry=registry,
        )
