"""Build the configured platform adapter, and the metric sources the platform offers the collector.

Adapters are registered by config ``type`` in ``PLATFORMS``; platforms that bring metric sources of their own
(pollers of a platform metrics API, such as Cloud Foundry's Log Cache) register a builder in
``METRIC_SOURCES``, and the wiring asks :func:`platform_sources` without knowing any platform type. Each
builder takes the whole :data:`PlatformConfig` union and narrows it to its own config class, so each table has
one value type for every platform. This module is the only one in ``platforms/`` that names the collector's
seam (:class:`collector.base.MetricSource`, a Protocol: adapters and sources do not import it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import prometheus_client
from prometheus_client import CollectorRegistry

from collector.base import MetricSource
from metrics_store.base import Appender
from platforms.base import Platform
from platforms.cloudfoundry.adapter import CloudFoundryPlatform
from platforms.cloudfoundry.log_cache import log_cache_sources
from platforms.config import CloudFoundryPlatformConfig, LocalPlatformConfig, PlatformConfig
from platforms.local.adapter import LocalPlatform

__all__ = [
    "METRIC_SOURCES",
    "PLATFORMS",
    "PlatformBuilder",
    "SourcesBuilder",
    "open_platform",
    "platform_sources",
]

PlatformBuilder = Callable[[PlatformConfig, CollectorRegistry], Platform]
SourcesBuilder = Callable[[PlatformConfig, Appender, CollectorRegistry], list[MetricSource]]


def _local(cfg: PlatformConfig, registry: CollectorRegistry) -> Platform:
    if not isinstance(cfg, LocalPlatformConfig):
        raise TypeError(f"local platform builder got a {type(cfg).__name__}")
    return LocalPlatform(
        Path(cfg.state_dir), timeout_s=cfg.timeout_s, registry=registry, tenants=cfg.tenants()
    )


def _cloudfoundry(cfg: PlatformConfig, registry: CollectorRegistry) -> Platform:
    if not isinstance(cfg, CloudFoundryPlatformConfig):
        raise TypeError(f"cloudfoundry platform builder got a {type(cfg).__name__}")
    return CloudFoundryPlatform(cfg, registry=registry)


PLATFORMS: dict[str, PlatformBuilder] = {"local": _local, "cloudfoundry": _cloudfoundry}


def open_platform(cfg: PlatformConfig, registry: CollectorRegistry = prometheus_client.REGISTRY) -> Platform:
    """The adapter for ``cfg`` (relative ``state_dir`` resolves against the current directory)."""
    return PLATFORMS[cfg.type](cfg, registry)


def _cloudfoundry_sources(
    cfg: PlatformConfig, sink: Appender, registry: CollectorRegistry
) -> list[MetricSource]:
    if not isinstance(cfg, CloudFoundryPlatformConfig):
        raise TypeError(f"cloudfoundry sources builder got a {type(cfg).__name__}")
    return [*log_cache_sources(cfg, sink, registry=registry)]


METRIC_SOURCES: dict[str, SourcesBuilder] = {"cloudfoundry": _cloudfoundry_sources}


def platform_sources(
    cfg: PlatformConfig, sink: Appender, registry: CollectorRegistry = prometheus_client.REGISTRY
) -> list[MetricSource]:
    """The metric sources the platform of ``cfg`` offers, each appending to ``sink`` (not started yet);
    ``[]`` for a platform that offers none."""
    builder = METRIC_SOURCES.get(cfg.type)
    return builder(cfg, sink, registry) if builder is not None else []
