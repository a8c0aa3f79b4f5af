"""The sample app's own metrics, in a registry of its own (plus the process and platform collectors)."""

from __future__ import annotations

import functools
import platform

from prometheus_client import (
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

from platforms.local.sample_app.faults import KINDS, FaultState

__all__ = ["AppMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def _is_active(faults: FaultState, kind: str) -> float:
    return float(faults.active(kind) is not None)


class AppMetrics:
    def __init__(self, faults: FaultState, version: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        if registry is None:
            self.registry.register(PROCESS_COLLECTOR)
            self.registry.register(PLATFORM_COLLECTOR)
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests served, by method, route template and status code.",
            ["method", "route", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to serve a request, by route template.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "app_errors_total",
            "Requests that failed inside the app (5xx), by route and reason.",
            ["route", "reason"],
            registry=self.registry,
        )
        self.leaked = Gauge("app_leaked_bytes", "Memory held by the leak fault.", registry=self.registry)
        info = Gauge(
            "app_info",
            "Constant 1; the app's version and runtime (app and instance come from target labels).",
            ["version", "runtime"],
            registry=self.registry,
        )
        info.labels(version, f"python-{platform.python_version()}").set(1)
        active = Gauge(
            "app_fault_active",
            "1 while an injected fault of this kind is active.",
            ["kind"],
            registry=self.registry,
        )
        for kind in KINDS:
            active.labels(kind).set_function(functools.partial(_is_active, faults, kind))
