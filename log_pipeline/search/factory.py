"""Build the configured search store: the one table mapping ``logs.search.type`` to a constructor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry

from log_pipeline.search.base import SearchError, SearchStore
from log_pipeline.search.config import ElasticsearchSearchConfig, EmbeddedSearchConfig, SearchConfig
from log_pipeline.search.engine import EngineClient

__all__ = ["STORES", "open_search_store"]


def _resolve(base_dir: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else base_dir / p


def _embedded(cfg: SearchConfig, base_dir: Path, registry: CollectorRegistry) -> SearchStore:
    # the native lib (tantivy) only when used
    from log_pipeline.search.index_process import IndexProcessStore  # noqa: PLC0415
    from log_pipeline.search.tantivy_store import TantivyStore  # noqa: PLC0415

    if not isinstance(cfg, EmbeddedSearchConfig):
        raise TypeError(f"expected an embedded search config, got {type(cfg).__name__}")
    path = _resolve(base_dir, cfg.path)
    store = IndexProcessStore if cfg.index_process else TantivyStore  # the writer in a child, or here
    return store(
        path,
        partition_s=cfg.partition_s,
        retention_s=cfg.retention_s,
        max_bytes=cfg.max_bytes,
        writer_heap_bytes=cfg.writer_heap_bytes,
        registry=registry,
    )


def _basic(cfg: ElasticsearchSearchConfig) -> tuple[str, str] | None:
    if cfg.username is not None and cfg.password is not None:
        return (cfg.username, cfg.password.get_secret_value())
    return None


def _es_client(cfg: ElasticsearchSearchConfig, base_dir: Path) -> EngineClient:
    from elastic_transport.client_utils import DEFAULT  # noqa: PLC0415
    from elasticsearch import Elasticsearch  # noqa: PLC0415

    from log_pipeline.search.es_client import ElasticsearchClient  # noqa: PLC0415

    client = Elasticsearch(
        cfg.hosts,
        api_key=cfg.api_key.get_secret_value() if cfg.api_key is not None else None,
        basic_auth=_basic(cfg),
        verify_certs=cfg.verify_certs,
        request_timeout=cfg.timeout_s,
        retry_on_timeout=True,
        ca_certs=str(_resolve(base_dir, cfg.ca_file)) if cfg.ca_file else DEFAULT,
    )
    return ElasticsearchClient(client)


def _os_client(cfg: ElasticsearchSearchConfig, base_dir: Path) -> EngineClient:
    from opensearchpy import OpenSearch  # noqa: PLC0415

    from log_pipeline.search.os_client import OpenSearchClient  # noqa: PLC0415

    extra: dict[str, Any] = {}
    if cfg.ca_file:
        extra["ca_certs"] = str(_resolve(base_dir, cfg.ca_file))
    client = OpenSearch(
        hosts=cfg.hosts,
        http_auth=_basic(cfg),
        verify_certs=cfg.verify_certs,
        timeout=cfg.timeout_s,
        max_retries=3,  # on another host: a dead node is marked and skipped
        retry_on_timeout=True,
        **extra,
    )
    return OpenSearchClient(client)


def _elasticsearch(cfg: SearchConfig, base_dir: Path, registry: CollectorRegistry) -> SearchStore:
    from log_pipeline.search.es_store import ElasticsearchStore  # noqa: PLC0415

    if not isinstance(cfg, ElasticsearchSearchConfig):
        raise TypeError(f"expected an elasticsearch search config, got {type(cfg).__name__}")
    client = _os_client(cfg, base_dir) if cfg.engine == "opensearch" else _es_client(cfg, base_dir)
    store = ElasticsearchStore(
        client,
        index_prefix=cfg.index_prefix,
        shards=cfg.number_of_shards,
        replicas=cfg.number_of_replicas,
        retention_s=cfg.retention_s,
        chunk_size=cfg.chunk_size,
        max_retries=cfg.max_retries,
        registry=registry,
    )
    store.install_template()
    return store


STORES: dict[str, Callable[[SearchConfig, Path, CollectorRegistry], SearchStore]] = {
    "embedded": _embedded,
    "elasticsearch": _elasticsearch,
}


def open_search_store(
    cfg: SearchConfig, base_dir: Path, registry: CollectorRegistry = prometheus_client.REGISTRY
) -> SearchStore:
    """Open the store ``cfg`` describes; relative paths resolve against ``base_dir`` (the config's folder).
    Raises :class:`~log_pipeline.search.base.SearchError` when it cannot be opened."""
    factory = STORES.get(cfg.type)
    if factory is None:
        raise SearchError(f"unknown search store type {cfg.type!r}")
    return factory(cfg, base_dir, registry)
