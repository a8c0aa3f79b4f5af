"""Build the configured platform adapter. Adapters are registered by config ``type`` in ``PLATFORMS``.

Each builder takes the whole :data:`PlatformConfig` union and narrows it to its own config class, so the
table has one value type for every adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import prometheus_client
from prometheus_client import CollectorRegistry

from platforms.base import Platform
from platforms.cloudfoundry.adapter import CloudFoundryPlatform
from platforms.config import CloudFoundryPlatformConfig, LocalPlatformConfig, PlatformConfig
from platforms.local.adapter import LocalPlatform

__all__ = ["PLATFORMS", "PlatformBuilder", "open_platform"]

PlatformBuilder = Callable[[PlatformConfig, CollectorRegistry], Platform]


def _local(cfg: PlatformConfig, registry: CollectorRegistry) -> Platform:
    if not isinstance(cfg, LocalPlatformConfig):
        raise TypeError(f"local platform builder got a {type(cfg).__name__}")
    return LocalPlatform(Path(cfg.state_dir), timeout_s=cfg.timeout_s, registry=registry)


def _cloudfoundry(cfg: PlatformConfig, registry: CollectorRegistry) -> Platform:
    if not isinstance(cfg, CloudFoundryPlatformConfig):
        raise TypeError(f"cloudfoundry platform builder got a {type(cfg).__name__}")
    return CloudFoundryPlatform(cfg, registry=registry)


PLATFORMS: dict[str, PlatformBuilder] = {"local": _local, "cloudfoundry": _cloudfoundry}


def open_platform(cfg: PlatformConfig, registry: CollectorRegistry = prometheus_client.REGISTRY) -> Platform:
    """The adapter for ``cfg`` (relative ``state_dir`` resolves against the current directory)."""
    return PLATFORMS[cfg.type](cfg, registry)
