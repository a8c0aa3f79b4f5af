"""The log service: builds the log pipeline from ``logs:`` and states its start/stop order.

Start: spool -> search store (both opened in the constructor) -> search worker processes (embedded store)
-> pipeline consumer + pattern-count flusher -> receivers (only now is anything acknowledged). Stop: receivers
first (nothing new is acked), then the search workers, then the consumer drains its current batch and stops,
the pattern counts get a final flush, the store closes, the spool closes.
Relative paths (spool, embedded store, TLS files) resolve against the config file's folder.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from fastapi import APIRouter
from prometheus_client import CollectorRegistry

from log_pipeline.api import logs_router
from log_pipeline.config import LogsConfig
from log_pipeline.enrich import TenantOf
from log_pipeline.patterns import MinerConfig, PatternMetrics, PatternStats, TenantMiners
from log_pipeline.pipeline import DuplicateCounter, PipelineMetrics, build_pipeline, standard_stages
from log_pipeline.receivers import ConsumerMetrics, LogReceivers, SpoolConsumer
from log_pipeline.receivers.server import DEFAULT_BACKLOG
from log_pipeline.search import SearchError, SearchStore, TailHub
from log_pipeline.search.config import ElasticsearchSearchConfig, EmbeddedSearchConfig
from log_pipeline.search.factory import open_search_store
from log_pipeline.search.tenant_limits import TenantSearchLimiter
from log_pipeline.search.workers import SearchWorkerPool
from log_pipeline.spool import FileSpool
from log_pipeline.syslog import SyslogParser
from metrics_store.base import Appender
from metrics_store.sched_slice import drop_slice_request

__all__ = ["LogService", "resolve_paths"]

log = logging.getLogger("paramedic.logs")


@runtime_checkable
class _Starting(Protocol):
    def wait_ready(self) -> None: ...  # a store that opens in a child process (IndexProcessStore)


@runtime_checkable
class _Retaining(Protocol):
    def apply_retention(self) -> Sequence[Path | str]: ...  # partitions or index names


def _resolve(base_dir: Path, path: str) -> str:
    p = Path(path)
    return str(p if p.is_absolute() else base_dir / p)


def resolve_paths(cfg: LogsConfig, base_dir: Path) -> LogsConfig:
    """``cfg`` with the spool directory and TLS files made absolute against ``base_dir``."""
    update: dict[str, object] = {
        "spool": cfg.spool.model_copy(update={"path": _resolve(base_dir, cfg.spool.path)})
    }
    if cfg.tls is not None:
        files = {
            "cert_file": _resolve(base_dir, cfg.tls.cert_file),
            "key_file": _resolve(base_dir, cfg.tls.key_file),
        }
        if cfg.tls.client_ca_file:
            files["client_ca_file"] = _resolve(base_dir, cfg.tls.client_ca_file)
        update["tls"] = cfg.tls.model_copy(update=files)
    return cfg.model_copy(update=update)


def _search_workers(cfg: LogsConfig, base_dir: Path, registry: CollectorRegistry) -> SearchWorkerPool | None:
    """The processes that search the embedded store (None for other stores or ``search_processes: 0``)."""
    search, api = cfg.search, cfg.search_api
    if not isinstance(search, EmbeddedSearchConfig) or api.search_processes == 0:
        return None
    path = Path(search.path)
    return SearchWorkerPool(
        path if path.is_absolute() else base_dir / path,
        partition_s=search.partition_s,
        limits=api,
        registry=registry,
    )


class LogService:
    """Spool, search store, pipeline consumer and receivers for one ``logs:`` section.

    ``appender`` receives ``paramedic_log_pattern_messages_total`` (the metrics store; it must outlive
    :meth:`stop`). :meth:`start`/:meth:`stop` run on the server's event loop.
    """

    def __init__(
        self,
        config: LogsConfig,
        *,
        base_dir: Path,
        appender: Appender | None,
        registry: CollectorRegistry,
        tenant_of: TenantOf | None = None,
        replica_id: str | None = None,
        listen_backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        """``tenant_of``: the platform's app -> (org, space) (labels an app's lines that do not name it);
        ``replica_id`` (``cluster.replica_id``): record ids become ``<replica_id>-<seq>``, so replicas sharing
        one search store (OpenSearch) never overwrite each other's lines (each spool counts from 0)."""
        self.config = cfg = resolve_paths(config, base_dir)
        sp = cfg.spool
        self.spool = FileSpool(
            Path(sp.path),
            segment_bytes=sp.segment_bytes,
            max_bytes=sp.max_bytes,
            max_backlog_messages=sp.max_backlog_messages,
            fsync=sp.fsync,
            fsync_interval_s=sp.fsync_interval_s,
        )
        try:
            self.store: SearchStore = open_search_store(cfg.search, base_dir, registry)
        except BaseException:
            self.spool.close()
            raise
        tc = cfg.tail
        self.tail = TailHub(
            tc.queue_records,
            registry,
            queue_bytes=tc.queue_bytes,
            max_subscribers=tc.max_subscribers,
            max_subscribers_per_principal=tc.max_subscribers_per_principal,
            max_query_bytes=tc.max_query_bytes,
            max_subscribers_per_tenant=cfg.search_api.max_tails_per_tenant,
        )
        pattern_metrics = PatternMetrics(registry)
        self.miner = TenantMiners(  # one miner per org/space: a tenant's templates come from its lines
            MinerConfig(max_bytes=cfg.patterns.tenant_max_bytes),
            max_bytes=cfg.patterns.max_bytes,
            on_new=pattern_metrics.pattern_created,
            on_evict=pattern_metrics.pattern_evicted,
        )
        pattern_metrics.watch_memory(self.miner.memory_bytes)
        self.tenant_limits = TenantSearchLimiter(cfg.search_api.tenant_search_share, registry)
        self.patterns = PatternStats(appender, metrics=pattern_metrics, replica=replica_id)
        self.metrics = PipelineMetrics(registry)
        process = build_pipeline(
            SyslogParser(registry=registry),
            standard_stages(self.miner, self.patterns, self.store, self.tail, tenant_of=tenant_of),
            metrics=self.metrics,
            duplicates=DuplicateCounter(cfg.duplicate_window_messages),
            id_prefix=f"{replica_id}-" if replica_id else "",
        )
        self.searchers = _search_workers(cfg, base_dir, registry)
        self.consumer = SpoolConsumer(
            self.spool,
            process,
            cfg.consumer_batch_messages,
            min_batch_messages=cfg.consumer_min_batch_messages,
            linger_s=cfg.consumer_linger_s,
            metrics=ConsumerMetrics.create(registry),
        )
        self.receivers = LogReceivers(cfg, self.spool, registry=registry, backlog=listen_backlog)
        self._stop_retention = threading.Event()
        self._retention: threading.Thread | None = None

    def router(self) -> APIRouter:
        return logs_router(
            self.store,
            patterns=self.patterns,
            tail=self.tail,
            limits=self.config.search_api,
            executor=self.searchers,
            tenant_limits=self.tenant_limits,
        )

    async def start(self) -> None:
        # the search workers and the store's index process (embedded store) start side by side
        starts = [s.start for s in (self.searchers,) if s is not None]
        starts += [self.store.wait_ready] if isinstance(self.store, _Starting) else []
        try:
            results = await asyncio.gather(*(asyncio.to_thread(f) for f in starts), return_exceptions=True)
            for failed in (r for r in results if isinstance(r, BaseException)):
                raise failed
            self.consumer.start()
            self.patterns.start(self.config.pattern_flush_interval_s)
            self._start_retention()
            await self.receivers.start()
        except BaseException:
            await self.stop()
            raise
        log.info("log pipeline started: listeners %s, spool %s", self.receivers.ports, self.config.spool.path)

    async def stop(self) -> None:
        await self.receivers.stop()
        if self.searchers is not None:
            await asyncio.to_thread(self.searchers.close)
        self.consumer.stop()
        self.patterns.stop()
        self._stop_retention.set()
        if self._retention is not None:
            self._retention.join()
            self._retention = None
        self.store.close()
        self.spool.close()
        log.info("log pipeline stopped")

    def _start_retention(self) -> None:
        store = self.store
        search = self.config.search
        if not isinstance(store, _Retaining) or not isinstance(
            search, EmbeddedSearchConfig | ElasticsearchSearchConfig
        ):
            return
        interval = search.retention_interval_s

        def run() -> None:
            drop_slice_request()  # background: a read that wakes may preempt it (metrics_store.sched_slice)
            while not self._stop_retention.wait(interval):
                try:
                    dropped = store.apply_retention()
                except SearchError as exc:
                    log.warning("log retention failed: %s", exc)
                    continue
                if dropped:
                    log.info("log retention dropped %d partitions", len(dropped))

        self._retention = threading.Thread(target=run, name="log-retention", daemon=True)
        self._retention.start()
