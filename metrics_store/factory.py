"""Build the configured metrics store (the only place that maps ``metrics_store.type`` to a class)."""

from __future__ import annotations

from pathlib import Path

import prometheus_client
from prometheus_client import CollectorRegistry

from metrics_store.base import MetricsStore
from metrics_store.config import EmbeddedStoreConfig, RemoteStoreConfig, StoreConfig
from metrics_store.embedded import EmbeddedStore

__all__ = ["open_store"]


def open_store(
    cfg: StoreConfig, base_dir: Path, registry: CollectorRegistry = prometheus_client.REGISTRY
) -> MetricsStore:
    """Open the store ``cfg`` describes; a relative embedded ``path`` is resolved against ``base_dir``."""
    if isinstance(cfg, EmbeddedStoreConfig):
        path = Path(cfg.path)
        return EmbeddedStore(path if path.is_absolute() else base_dir / path, cfg, registry=registry)
    if isinstance(cfg, RemoteStoreConfig):
        # influxdb-client (~25 MB resident with reactivex) is imported only when a remote store is configured
        from metrics_store.remote import RemoteStore  # noqa: PLC0415

        return RemoteStore(cfg, registry=registry)
    raise TypeError(f"unknown store config {type(cfg).__name__}")
