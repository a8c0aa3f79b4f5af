"""Self-instrumentation of the Cloud Foundry adapter and the Log Cache source (injectable registry)."""

from __future__ import annotations

import threading
import weakref

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["CFMetrics", "cf_metrics"]


class CFMetrics:
    """Counters and latencies of every HTTP call to the CC API, UAA and Log Cache."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "paramedic_cf_api_calls_total",
            "HTTP calls to Cloud Foundry by API (cc, uaa, log_cache), endpoint template, method and status "
            "(status is the HTTP code, or 'timeout' / 'connect_error').",
            ["api", "endpoint", "method", "status"],
            registry=registry,
        )
        self.call_seconds = Histogram(
            "paramedic_cf_api_call_duration_seconds",
            "Duration of HTTP calls to Cloud Foundry (each attempt).",
            ["api", "endpoint"],
            buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.token_refreshes = Counter(
            "paramedic_cf_token_refreshes_total",
            "UAA client-credentials tokens fetched (first fetch, expiry and 401 refreshes).",
            registry=registry,
        )
        self.errors = Counter(
            "paramedic_cf_api_errors_total",
            "Cloud Foundry calls that failed after retries, by endpoint and reason (status / exception).",
            ["api", "endpoint", "reason"],
            registry=registry,
        )
        self.retries = Counter(
            "paramedic_cf_api_retries_total",
            "Retries of idempotent Cloud Foundry calls after a 5xx, timeout or connection error.",
            ["api", "endpoint"],
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


_LOCK = threading.Lock()
_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, CFMetrics] = weakref.WeakKeyDictionary()


def cf_metrics(registry: CollectorRegistry) -> CFMetrics:
    """The metrics registered in ``registry``; adapters sharing a registry share them."""
    with _LOCK:
        metrics = _BY_REGISTRY.get(registry)
        if metrics is None:
            metrics = CFMetrics(registry)
            _BY_REGISTRY[registry] = metrics
        return metrics
