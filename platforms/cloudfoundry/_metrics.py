"""Self-instrumentation of the Cloud Foundry adapter and the Log Cache source (injectable registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from platforms.instrument import PlatformCalls, per_registry

__all__ = ["CFMetrics", "cf_metrics"]


class CFMetrics:
    """Every HTTP call to the CC API, UAA and Log Cache (:mod:`platforms.instrument`'s shared vocabulary:
    ``call`` is ``METHOD /endpoint/template``, a failed call's reason its HTTP status, ``timeout`` or
    ``connect_error``), and what is Cloud Foundry's own: token refreshes, Log Cache samples and errors."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.cc = PlatformCalls(registry, "cloudfoundry", "cc")
        self.uaa = PlatformCalls(registry, "cloudfoundry", "uaa")
        self.log_cache = PlatformCalls(registry, "cloudfoundry", "log_cache")
        self.token_refreshes = Counter(
            "paramedic_cf_token_refreshes_total",
            "UAA client-credentials tokens fetched (first fetch, expiry and 401 refreshes).",
            registry=registry,
        )
        self.log_cache_samples = Counter(
            "paramedic_cf_log_cache_samples_total",
            "Samples read from Log Cache and appended to the metrics store.",
            registry=registry,
        )
        self.log_cache_errors = Counter(
            "paramedic_cf_log_cache_errors_total",
            "Log Cache polls or queries that failed, by reason.",
            ["reason"],
            registry=registry,
        )


cf_metrics = per_registry(CFMetrics)
"""The metrics registered in a registry; adapters and sources sharing a registry share them."""
