"""Build the configured platform adapter. Adapters are registered by config ``type`` in ``PLATFORMS``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import prometheus_client
from prometheus_client import CollectorRegistry

from platforms.base import Platform
from platforms.config import LocalPlatformConfig, PlatformConfig
from platforms.local.adapter import LocalPlatform

__all__ = ["PLATFORMS", "open_platform"]


def _local(cfg: LocalPlatformConfig, registry: CollectorRegistry) -> Platform:
    return LocalPlatform(Path(cfg.state_dir), timeout_s=cfg.timeout_s, registry=registry)


PLATFORMS: dict[str, Callable[[LocalPlatformConfig, CollectorRegistry], Platform]] = {"local": _local}


def open_platform(cfg: PlatformConfig, registry: CollectorRegistry = prometheus_client.REGISTRY) -> Platform:
    """The adapter for ``cfg`` (relative ``state_dir`` resolves against the current directory)."""
    return PLATFORMS[cfg.type](cfg, registry)
