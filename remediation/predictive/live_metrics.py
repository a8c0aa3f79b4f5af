"""Prometheus metrics of the predictive scale policy (``paramedic_predictive_*``), per policy only: the open
``/metrics`` names policies, never apps (an app's own forecast, actual and error are in its actions' audit
trail, which the API filters by tenant). The gauges sum the policy's apps' loads (one app: that app's)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["PredictiveMetrics"]


class PredictiveMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        p = "paramedic_predictive_"
        self.forecast = Gauge(
            p + "forecast", "Forecast load at now + startup, summed over the policy's apps.", ["policy"],
            registry=registry,
        )  # fmt: skip
        self.actual = Gauge(
            p + "actual",
            "Newest measured load, summed over the policy's apps.",
            ["policy"],
            registry=registry,
        )
        self.error = Gauge(
            p + "forecast_error",
            "Weighted absolute percentage error of the recent matured forecasts (the worst of the policy's "
            "apps).",
            ["policy"],
            registry=registry,
        )
        self.instances = Gauge(
            p + "instances_wanted", "Instances asked for, summed over the policy's apps.", ["policy"],
            registry=registry,
        )  # fmt: skip
        self.decisions = Counter(
            p + "decisions",
            "Decisions by basis (predictive, hybrid, reactive_floor, cold_start, gated, unknown_error, "
            "no_data).",
            ["policy", "basis"],
            registry=registry,
        )
        self.requests = Counter(
            p + "scale_requests", "Scale requests submitted to the engine.", ["policy"], registry=registry
        )
        self.failures = Counter(
            p + "failures",
            "Evaluations of one app that failed (history read, model, platform read).",
            ["policy"],
            registry=registry,
        )
        self.duration = Histogram(
            p + "evaluation_seconds",
            "Time of one policy evaluation (all its apps).",
            ["policy"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30),
            registry=registry,
        )
