"""Self-instrumentation of the collector (``paramedic_scrape_*``), registered in an injectable registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["ScrapeMetrics"]

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class ScrapeMetrics:
    """Metric families of one scrape manager. Two managers in one registry would collide."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.scrapes = Counter(
            "paramedic_scrape_scrapes",
            "Scrapes finished, by job and result (success/failure).",
            ["job", "result"],
            registry=registry,
        )
        self.errors = Counter(
            "paramedic_scrape_errors",
            "Failed scrapes by reason (timeout, connection, tls, oauth2, http_config, http_status, "
            "body_too_large, parse, sample_limit, label_limit, append, ...).",
            ["job", "reason"],
            registry=registry,
        )
        self.samples_appended = Counter(
            "paramedic_scrape_samples_appended",
            "Scraped samples appended to the store (after relabeling).",
            ["job"],
            registry=registry,
        )
        self.samples_dropped = Counter(
            "paramedic_scrape_samples_dropped",
            "Scraped samples dropped by metric_relabel_configs or as duplicates.",
            ["job", "reason"],
            registry=registry,
        )
        self.stale_markers = Counter(
            "paramedic_scrape_staleness_markers",
            "Staleness markers appended for vanished series.",
            ["job"],
            registry=registry,
        )
        self.duration = Histogram(
            "paramedic_scrape_duration_seconds",
            "Scrape duration: HTTP fetch, parse, relabel.",
            ["job"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.ingest_wait = Histogram(
            "paramedic_scrape_ingest_wait_seconds",
            "How long a fetched body waited for the ingest thread (left out of the scrape's duration).",
            ["job"],
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self.start_lag = Histogram(
            "paramedic_scrape_start_lag_seconds",
            "How late a scrape started relative to its schedule slot.",
            ["job"],
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self.targets = Gauge(
            "paramedic_scrape_targets", "Active scrape targets per job.", ["job"], registry=registry
        )
        self.oauth2_tokens = Counter(
            "paramedic_scrape_oauth2_token_requests",
            "OAuth2 client-credentials token requests of scrape jobs, by result (success/failure).",
            ["result"],
            registry=registry,
        )
        self.discovery_errors = Counter(
            "paramedic_scrape_discovery_errors",
            "Discovery failures (file_sd file, platform API).",
            ["job"],
            registry=registry,
        )
