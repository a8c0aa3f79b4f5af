"""Effective scrape settings of one job: the job's values over the collector-wide defaults."""

from __future__ import annotations

from dataclasses import dataclass

from collector.config import CollectorConfig, FileJob, PlatformJob, StaticJob
from collector.http_client import ScrapeHTTP
from collector.relabel import CompiledRule, compile_rules
from metrics_store.names import EscapingScheme

__all__ = ["ScrapeSettings", "job_settings"]


@dataclass(frozen=True, slots=True)
class ScrapeSettings:
    """Everything a scrape loop needs besides its target. Limits of 0 mean "no limit"."""

    job: str
    interval_s: float
    timeout_s: float
    max_body_bytes: int
    sample_limit: int
    label_limit: int
    label_name_length_limit: int
    label_value_length_limit: int
    honor_labels: bool
    honor_timestamps: bool
    metric_relabel: tuple[CompiledRule, ...]
    http: ScrapeHTTP | None = (
        None  # TLS, credentials, proxy; None: plain defaults (shared per distinct config)
    )
    utf8_names: bool = True  # quoted UTF-8 names accepted (metric_name_validation_scheme: utf8)
    escaping: EscapingScheme | None = "allow-utf-8"  # asked of the target in Accept; None: 2.42's header
    # Prometheus 3 stores le (histogram) and quantile (summary) values normalised: le="1" as "1.0"; 2.42 not
    normalise_float_labels: bool = True


def _pick(job_value: float | None, default: float) -> float:
    return default if job_value is None else job_value


def job_settings(
    cfg: CollectorConfig,
    job: StaticJob | FileJob | PlatformJob,
    http: ScrapeHTTP | None = None,
    *,
    normalise_float_labels: bool = True,
) -> ScrapeSettings:
    interval = _pick(job.interval_s, cfg.interval_s)
    return ScrapeSettings(
        job=job.name,
        interval_s=interval,
        timeout_s=min(_pick(job.timeout_s, cfg.timeout_s), interval),
        max_body_bytes=int(_pick(job.max_body_bytes, cfg.max_body_bytes)),
        sample_limit=int(_pick(job.sample_limit, cfg.sample_limit)),
        label_limit=int(_pick(job.label_limit, cfg.label_limit)),
        label_name_length_limit=int(_pick(job.label_name_length_limit, cfg.label_name_length_limit)),
        label_value_length_limit=int(_pick(job.label_value_length_limit, cfg.label_value_length_limit)),
        honor_labels=job.honor_labels,
        honor_timestamps=job.honor_timestamps,
        metric_relabel=compile_rules(job.metric_relabel_configs),
        http=http,
        utf8_names=cfg.metric_name_validation_scheme == "utf8",
        escaping=cfg.escaping(),
        normalise_float_labels=normalise_float_labels,
    )
