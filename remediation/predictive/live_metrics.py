"""Prometheus metrics of the predictive scale policy (``paramedic_predictive_*``), per policy and app (apps
come from the policy files, so the label sets are bounded by configuration)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["PredictiveMetrics"]


class PredictiveMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        p = "paramedic_predictive_"
        self.forecast = Gauge(
            p + "forecast", "Forecast load at now + startup.", ["policy", "app"], registry=registry
        )
        self.actual = Gauge(p + "actual", "Newest measured load.", ["policy", "app"], registry=registry)
        self.error = Gauge(
            p + "forecast_error",
            "Weighted absolute percentage error of the recent matured forecasts.",
            ["policy", "app"],
            registry=registry,
        )
        self.instances = Gauge(
            p + "instances_wanted", "Instances the policy asks for.", ["policy", "app"], registry=registry
        )
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
            "Evaluations that failed (history read, platform read).",
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
