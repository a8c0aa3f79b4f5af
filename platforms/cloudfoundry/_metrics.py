"""Self-instrumentation of the Cloud Foundry adapter and the Log Cache source (injectable registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from platforms.instrument import PlatformCalls, per_registry

__all__ = ["CFMetrics", "cf_metrics"]


class CFMetrics:
    """Every HTTP call to the CC API, UAA and Log Cache (:mod:`platforms.instrument`'s shared vocabulary:
    ``call`` is ``METHOD /endpoint/template``, a failed call's reason its HTTP status, ``timeout`` or
    ``connect_error``), and what is Cloud Foundry's own: token refreshes, the request budget (throttled
    waits, 429s, pace), discovery's calls per cycle, async jobs, Log Cache samples and errors."""

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
        self.throttled_waits = Counter(
            "paramedic_cf_throttled_waits_total",
            "CC calls that waited for the request budget (or a Retry-After / rate-limit pause), by priority.",
            ["priority"],
            registry=registry,
        )
        self.throttled_seconds = Counter(
            "paramedic_cf_throttled_wait_seconds_total",
            "Seconds CC calls waited for the request budget or a Retry-After pause, by priority.",
            ["priority"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "paramedic_cf_rate_limited_total",
            "429 Too Many Requests answers of the CC API (each is waited out before the call is repeated).",
            registry=registry,
        )
        self.request_rate = Gauge(
            "paramedic_cf_request_rate_per_second",
            "The request budget's current pace (lowered when X-RateLimit-Remaining runs low).",
            registry=registry,
        )
        self.discovery_calls = Gauge(
            "paramedic_cf_discovery_cc_calls",
            "CC calls the last discovery cycle made (a stable foundation: 2, plus stats past their TTL).",
            registry=registry,
        )
        self.jobs = Counter(
            "paramedic_cf_jobs_total",
            "Asynchronous CC operations (/v3/jobs) waited for, by outcome: complete, failed, timeout.",
            ["outcome"],
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
