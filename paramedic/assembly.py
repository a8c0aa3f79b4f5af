"""Build and run the Paramedic server: the one place that knows every component and their start/stop order.

Built in ``__init__``: the metrics store and the platform adapter. Start order: cluster join (with a
``cluster:`` block only) -> logs (spool -> search store -> pipeline consumer -> receivers, see
``paramedic.logs``) -> alerting (dispatcher -> rule manager, see ``paramedic.alerting``) -> remediation
(recover interrupted actions -> engine -> schedules, see ``paramedic.remediation``; subscribed to the rule
manager's alerts beside the dispatcher) -> metric sources (the collector's scrape manager, its push receivers
(``collector.push``: remote write, OTLP), then the sources the platform offers, e.g. Cloud Foundry's Log Cache
poller) -> scheduled reports -> HTTP API. Alerting and remediation start on the leader only.
Stop order: the reverse, so no source appends to a closed store and every accepted sample is flushed; the log
receivers stop first within logs, so nothing is acknowledged that is not in the spool.

Write path of the metric sources: the store, then the subscribers of committed samples: the rules' recent
window (a batch reaches it only after the store accepted it) and, per committed scrape, the rule manager's
evaluate-on-arrival hook. Recording rules and ``ALERTS`` take the same path; the log pipeline's pattern counts
go to the store only.

Reload (SIGHUP) takes the same path as startup for the collector, the rules, the dispatcher and the
remediation policies: ``apply_config``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import prometheus_client
import uvicorn
import yaml
from fastapi import FastAPI, Request, Response
from fastapi.middleware.gzip import GZipMiddleware
from prometheus_client import CollectorRegistry, Gauge

from alerting.slo import Slo, SloStatus, slo_status
from collector.api import targets_router
from collector.base import MetricSource
from collector.manager import ScrapeManager
from collector.metadata import MetadataRegistry, metadata_router
from collector.push.api import push_router
from collector.push.ingest import PushIngest
from collector.targets import format_duration
from dashboard.reports import ReportContext
from dashboard.views import views_for
from log_pipeline.enrich import TenantOf
from log_pipeline.receivers.server import DEFAULT_BACKLOG
from metrics_store.api import ServerInfo, query_router, status_router
from metrics_store.base import Appender, MetricsStore
from metrics_store.factory import open_store
from metrics_store.promql import Engine
from metrics_store.redact import redacted_dump
from paramedic import VERSION
from paramedic._http_conns import guarded_h11
from paramedic.alerting import AlertingService
from paramedic.auth import close as close_auth
from paramedic.auth import install as install_auth
from paramedic.auth import install_guards, refusals_counter
from paramedic.cluster.api import cluster_router, install_leader_proxy
from paramedic.cluster.service import ClusterService
from paramedic.cluster.state import EtcdState
from paramedic.cluster.tls import ClusterTLSError
from paramedic.config import ConfigError, ConfigProblem, ParamedicConfig, load_config
from paramedic.dashboard import CapacityPage
from paramedic.dashboard import build_router as dashboard_router
from paramedic.dashboard import build_sources as dashboard_sources
from paramedic.fds import degraded_gauge, fit_log_listeners, http_backlog, log_backlog, raise_nofile_limit
from paramedic.latency_slice import LatencySlice, install_default_executor
from paramedic.logs import LogService
from paramedic.loop_lag import LoopLagMonitor
from paramedic.remediation import RemediationService
from paramedic.reports import ReportsService, report_sections
from platforms.base import Platform, TenantResolver
from platforms.capacity import CapacityService, CapacitySettings, capacity_router
from platforms.events import event_feed
from platforms.factory import open_platform, platform_sources
from platforms.tenancy import scope_of
from remediation.audit.fenced import FencedAuditLog
from remediation.base import RemediationError

__all__ = ["Paramedic", "serve"]

log = logging.getLogger("paramedic")


def add_gzip(app: FastAPI) -> None:
    """Compress responses over 4 KiB for clients that accept gzip (query API matrices, pages), as Prometheus
    does; level 5: most of the size gain for a fraction of level 9's CPU. Event streams are never
    compressed (Starlette excludes text/event-stream)."""
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=5)


def tenant_of(platform: Platform | None) -> TenantOf | None:
    """The platform's ``tenant_of`` (org/space of an app, for the log pipeline) when it offers one."""
    return platform.tenant_of if isinstance(platform, TenantResolver) else None


def single_reader_window(config: ParamedicConfig) -> ParamedicConfig:
    """Several replicas: the rules' recent window is off. It holds only what this replica wrote (its own
    scrape shard), so the leader's rules would miss the other replicas' series; they read the shared store."""
    if config.cluster is None or config.rules is None or not config.rules.recent_window.enabled:
        return config
    window = config.rules.recent_window.model_copy(update={"enabled": False})
    rules = config.rules.model_copy(update={"recent_window": window})
    return config.model_copy(update={"rules": rules})


class Paramedic:
    """The assembled server. ``base_dir`` resolves relative paths in the config (the config file's folder);
    ``log_backlog``: the log listeners' listen backlog (serve passes paramedic.fds.log_backlog)."""

    def __init__(
        self,
        config: ParamedicConfig,
        *,
        base_dir: Path,
        config_path: Path | None = None,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
        log_backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        config = single_reader_window(config)
        self.config = config
        self.config_path = config_path
        self.base_dir = base_dir
        self.registry = registry
        self.loop_lag = LoopLagMonitor(registry)
        self.latency_slice = LatencySlice(registry)
        Gauge(
            "paramedic_gc_frozen_objects",
            "Objects the lifespan moved out of the cyclic GC's generations once start-up was done "
            "(gc.freeze): full collections no longer walk them. 0 until then.",
            registry=registry,
        ).set_function(gc.get_freeze_count)
        # Several replicas (cluster:): membership, the leader lease and the scrape shard, through etcd.
        self.cluster: ClusterService | None = (
            ClusterService(config.cluster, address=self.url, registry=registry, base_dir=base_dir)
            if config.cluster
            else None
        )
        self.store: MetricsStore = open_store(config.metrics_store, base_dir, registry=registry)
        self.platform: Platform | None = (
            open_platform(config.platform, registry=registry) if config.platform else None
        )
        # The platform's own events of an app (timeline, explained email), when the platform records them.
        self.platform_events = event_feed(self.platform, registry=registry) if self.platform else None
        self.logs: LogService | None = None
        if config.logs is not None:
            try:
                self.logs = LogService(
                    config.logs,
                    base_dir=base_dir,
                    appender=self.store,
                    registry=registry,
                    tenant_of=tenant_of(self.platform),
                    replica_id=config.cluster.replica_id if config.cluster else None,
                    listen_backlog=log_backlog,
                )
            except BaseException:
                self.store.close()
                raise
        self.alerting: AlertingService | None = None
        if config.rules is not None or config.alerting is not None:
            try:
                self.alerting = AlertingService(
                    config.rules,
                    config.alerting,
                    base_dir=base_dir,
                    store=self.store,
                    patterns=self.logs.patterns if self.logs is not None else None,
                    server_url=self.url,
                    registry=registry,
                    query_limits=config.metrics_store.query,
                    semantics=config.promql.to_semantics(),
                    platform_events=self.platform_events,
                    tenant_of=tenant_of(self.platform),
                    fence=self.cluster.node if self.cluster is not None else None,
                    state=EtcdState(self.cluster.node) if self.cluster is not None else None,
                )
            except BaseException:
                self.store.close()
                raise
        self.remediation: RemediationService | None = None
        if config.remediation is not None:
            try:
                self.remediation = RemediationService(
                    config.remediation,
                    base_dir=base_dir,
                    platform=self.platform,
                    store=self.store,
                    notify=self.alerting.dispatcher if self.alerting is not None else None,
                    external_url=self.url,
                    registry=registry,
                    query_limits=config.metrics_store.query,
                    audit=FencedAuditLog(self.cluster.node) if self.cluster is not None else None,
                    semantics=config.promql.to_semantics(),
                )
            except BaseException:
                self.store.close()
                raise
            if self.alerting is not None:
                self.alerting.sink.subscribe(self.remediation.sink)
                if self.remediation.approval_links is not None:  # signed links go into notifications only
                    self.alerting.approval_links.subscribe(self.remediation.approval_links)
        # The metric sources' write path. Subscribers of committed samples: the rules' recent window (when
        # rules.recent_window is on, AlertingService.appender is alerting.rules.WindowTee(store, window): a
        # batch reaches the window after the store accepted it) and the rule manager's on_commit (below).
        committed: Appender = self.alerting.appender if self.alerting is not None else self.store
        # What the platform offers (Cloud Foundry: app containers and components through Log Cache,
        # agentlessly), from platforms.factory's table: the wiring knows no platform type.
        offered = (
            platform_sources(config.platform, committed, registry) if config.platform is not None else []
        )
        self.metadata = MetadataRegistry(registry=registry)
        self.scraper = ScrapeManager(
            config.collector,
            committed,
            self.platform,
            registry=registry,
            base_dir=base_dir,
            on_families=self.metadata.observe,
            # a subscriber of committed scrapes: rules evaluate as samples arrive
            on_commit=self.alerting.on_commit if self.alerting is not None else None,
            owns=self.cluster.owns if self.cluster is not None else None,  # this replica's shard
            # le/quantile values stored as the Prometheus of promql.semantics stores them (3: le="1.0")
            normalise_float_labels=config.promql.semantics == "3",
        )
        # pushed samples (remote write, OTLP): the same write path, counted in the scrape manager's families
        self.push = PushIngest(
            committed,
            registry=registry,
            scrape_metrics=self.scraper.metrics,
            reserved_jobs=lambda: frozenset(job.name for job in self.config.collector.jobs),
        )
        # started in this order, stopped reversed
        self.sources: list[MetricSource] = [self.scraper, self.push, *offered]
        self.capacity = CapacityService(
            self._engine(),
            settings=CapacitySettings(chunk_mib=self.config.dashboard.memory_chunk_mib),
            registry=self.registry,
        )
        self.reports = self._reports_service()
        self._reloads: set[asyncio.Task[None]] = set()
        self.leading = False  # rules, dispatch and remediation running here
        self.started_at = datetime.now(UTC)
        self.last_reload = (True, self.started_at)
        self.app = self._build_app()

    def _reports_service(self) -> ReportsService:
        """Scheduled reports over the dashboard's readers (preview and render even without ``reports:``)."""
        platform = self.config.platform
        return ReportsService(
            self.config.reports,
            self.config.alerting,
            sources=dashboard_sources(
                self.store,
                dispatcher=self.alerting.dispatcher if self.alerting is not None else None,
                platform=self.platform,
                audit=self.remediation.audit if self.remediation is not None else None,
            ),
            views=views_for(
                platform.type if platform is not None else None,
                memory_chunk_mib=self.config.dashboard.memory_chunk_mib,
            ),
            patterns=self.logs.patterns if self.logs is not None else None,
            registry=self.registry,
            sections=report_sections(slos=self._slo_statuses, capacity=self.capacity.outlook),
        )

    def _slo_statuses(self, ctx: ReportContext) -> list[SloStatus]:
        """The report's SLO section: the SLOs its scope sees, over its window (tenant-scoped queries)."""
        engine = self._engine()
        return slo_status(engine, self._slos(), ctx.scope, ctx.start_s, ctx.end_s)

    def _engine(self) -> Engine:
        """A PromQL engine over the store with the configured limits and semantics, metrics unregistered."""
        return Engine.from_limits(
            self.store,
            self.config.metrics_store.query,
            registry=CollectorRegistry(),
            semantics=self.config.promql.to_semantics(),
        )

    @property
    def url(self) -> str:
        srv = self.config.server
        host = "127.0.0.1" if srv.listen_host in {"", "0.0.0.0", "::"} else srv.listen_host  # noqa: S104
        return f"http://{host}:{srv.listen_port}"

    def begin_shutdown(self) -> None:
        """SIGTERM/SIGINT arrived: end the streams that would otherwise hold the server open (live tails)."""
        if self.logs is not None:
            self.logs.tail.close()

    async def _stop(self, app: FastAPI) -> None:
        """The lifespan's shutdown: everything started, in the reverse of the start order."""
        log.info("paramedic stopping")
        try:
            await self.reports.stop()
            for source in reversed(self.sources):
                await source.stop()
            if self.remediation is not None and self.leading:  # a follower never started them
                await self.remediation.stop()
            if self.alerting is not None and self.leading:
                await self.alerting.stop()
            if self.logs is not None:
                await self.logs.stop()
            if self.cluster is not None:
                await self.cluster.stop()
            self.store.close()
        finally:
            close_auth(app)  # the password hash child processes, whatever failed above
        await self.loop_lag.stop()
        log.info("paramedic stopped")

    def _build_app(self) -> FastAPI:
        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            # first: the threads this one starts from here on (reads' workers) inherit the slice
            if self.latency_slice.apply(self.config.server.latency_slice_us):
                # before anything runs work in it: asyncio.to_thread's threads would inherit the slice
                install_default_executor(asyncio.get_running_loop())
            await self.loop_lag.start()
            if self.cluster is not None:  # join first: the scrape shard needs the membership
                await self.cluster.start(
                    reshard=self.scraper.reshard, lead=self._lead, targets_owned=self.scraper.owned_count
                )
            if self.logs is not None:
                await self.logs.start()
            if self.cluster is None:
                await self._lead()
            else:  # the same point of the start order, once this replica is (or becomes) the leader
                self.cluster.allow_leading()
            for source in self.sources:
                await source.start()
            await self.reports.start()
            # Everything built at startup lives for the whole run: move it out of the cyclic GC's view, and
            # collect the young generation less often. Full collections were rescanning the startup heap on
            # every scrape burst (about 13% of process CPU at 40k samples/s).
            gc.freeze()
            gc.set_threshold(10_000, 50, 1000)
            loop = asyncio.get_running_loop()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal.SIGHUP, self.reload)
            log.info("paramedic started: %d scrape jobs", len(self.config.collector.jobs))
            try:
                yield
            finally:
                await self._stop(app)

        app = FastAPI(title="Paramedic", version=VERSION, lifespan=lifespan)
        add_gzip(app)
        if (
            self.cluster is not None
        ):  # inside authentication (added before it): followers forward to the leader
            install_leader_proxy(app, self.cluster.node)
        refusals = refusals_counter(self.registry)
        self.tokens = install_auth(
            app,
            self.config.server.auth,
            base_dir=self.base_dir,
            registry=self.registry,
            refusals=refusals,
            trusted_proxies=self.config.server.trusted_proxies,
        )
        install_guards(app, self.config.server, refusals=refusals)  # outermost: Host, then body size
        if self.logs is not None:  # first: FastAPI tries the routers in order, and a log search (a UI's
            # page of hits) then skips the ten before it (~37 us of the event loop's ~110 per search,
            # bench/README.md stop 34); only /api/v1/logs/* paths match its routes, so no other route moves
            app.include_router(self.logs.router())
        app.include_router(
            query_router(
                self.store,
                limits=self.config.metrics_store.query,
                registry=self.registry,
                semantics=self.config.promql.to_semantics(),
            )
        )
        app.include_router(targets_router(self.scraper))
        app.include_router(  # /api/v1/write, /api/v1/otlp/v1/{metrics,logs}
            push_router(
                self.push,
                lambda: self.config.collector.push,
                self.logs.spool if self.logs is not None else None,
            )
        )
        app.include_router(metadata_router(self.metadata, self.store))
        for router in self.alerting.routers() if self.alerting is not None else []:
            app.include_router(router)  # before status_router: its /api/v1/rules and /alerts are empty
        app.include_router(status_router(self._server_info()))
        if self.remediation is not None:
            app.include_router(self.remediation.router())
        capacity = self.capacity
        app.include_router(capacity_router(capacity))  # /api/v1/capacity (foundation principals only)
        app.include_router(self.reports.router())  # /api/v1/reports/render, /reports
        if self.cluster is not None:  # /api/v1/status/cluster (foundation principals only)
            app.include_router(cluster_router(self.cluster.node, self.scraper.owned_count))
        app.include_router(  # the dashboard's pages: /, /apps/{app}, /explore, /static/...
            dashboard_router(
                self.store,
                dispatcher=self.alerting.dispatcher if self.alerting is not None else None,
                platform=self.platform,
                audit=self.remediation.audit if self.remediation is not None else None,
                platform_events=self.platform_events,
                log_search=self.logs is not None,
                # the queries of the configured platform type (dashboard.views' table)
                views=views_for(
                    self.config.platform.type if self.config.platform is not None else None,
                    memory_chunk_mib=self.config.dashboard.memory_chunk_mib,
                ),
                slos=self._slos if self.config.rules is not None and self.config.rules.slo_files else None,
                capacity=CapacityPage(capacity),
            )
        )

        _mount_own_endpoints(app, self.registry)
        return app

    async def _lead(self) -> None:
        """Start what only the leader runs: rules and alert dispatch, then remediation (which first re-reads
        the shared journal and recovers what a dead leader left open). Alone: at startup."""
        if self.remediation is not None and isinstance(self.remediation.audit, FencedAuditLog):
            await asyncio.to_thread(self.remediation.audit.reload)
        if self.cluster is not None and self.alerting is not None and self.alerting.dispatcher is not None:
            await asyncio.to_thread(self.alerting.dispatcher.reload_state)  # silences, acks, notification log
        if self.alerting is not None:
            await self.alerting.start()
        if self.remediation is not None:
            await self.remediation.start()
        self.leading = True

    def _slos(self) -> list[Slo]:
        """The SLOs the alerting service loaded (follows reloads); none without rules."""
        return self.alerting.slos if self.alerting is not None else []

    def _server_info(self) -> ServerInfo:
        def config_yaml() -> str:
            return yaml.safe_dump(redacted_dump(self.config, by_alias=True), sort_keys=False)  # <secret>s

        srv = self.config.server
        return ServerInfo(
            version=VERSION,
            started_at=self.started_at,
            config_yaml=config_yaml,
            flags={
                "config.file": str(self.config_path or ""),
                "web.listen-address": f"{srv.listen_host}:{srv.listen_port}",
                "query.lookback-delta": format_duration(self.config.metrics_store.query.lookback_delta_s),
                "query.timeout": format_duration(self.config.metrics_store.query.timeout_s),
                "query.max-samples": str(self.config.metrics_store.query.max_samples),
                "query.max-concurrency": str(self.config.metrics_store.query.max_concurrency),
            },
            storage_retention=(
                format_duration(self.config.metrics_store.retention_s)
                if self.config.metrics_store.type == "embedded"
                else "remote"
            ),
            last_reload=lambda: self.last_reload,
        )

    def reload(self) -> None:
        """Re-read the config file and apply the collector, rules, alerting and remediation sections; a bad
        file keeps the running config (adding or removing a whole section needs a restart)."""
        if self.config_path is None:
            return
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            log.error("reload refused, keeping the running config:\n%s", exc)
            self.last_reload = (False, datetime.now(UTC))
            return
        if self.remediation is not None and new.remediation is not None:
            try:
                self.remediation.apply_config(new.remediation)
            except RemediationError as exc:
                log.error("policy reload refused, keeping the running config:\n%s", exc)
                self.last_reload = (False, datetime.now(UTC))
                return
        self.scraper.apply_config(new.collector)
        self.reports.apply_config(new.reports, new.alerting)  # parse_config checked its SMTP receiver
        if self.alerting is not None:
            with contextlib.suppress(RuntimeError):  # no running loop: not serving, nothing to reload
                loop = asyncio.get_running_loop()
                task = loop.create_task(self.alerting.apply_config(new.rules, new.alerting))
                self._reloads.add(task)
                task.add_done_callback(self._reloads.discard)
        self.config = self.config.model_copy(
            update={
                "collector": new.collector,
                "rules": new.rules,
                "alerting": new.alerting,
                "remediation": new.remediation if self.remediation is not None else self.config.remediation,
                "reports": self.reports.config,  # what the reports service applied
            }
        )
        self.last_reload = (True, datetime.now(UTC))
        log.info("reloaded %s", self.config_path)


MAX_REQUEST_HEAD_BYTES = 128 * 1024


class _UvicornServer(uvicorn.Server):
    """uvicorn's server, telling Paramedic first when a stop signal arrives: uvicorn waits for open
    connections before the lifespan shutdown runs, so a stream that only ends with its client (a live tail in
    a browser tab) must be ended by the signal itself."""

    def __init__(self, on_exit: Callable[[], None], config: uvicorn.Config) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)


def _mount_own_endpoints(app: FastAPI, registry: CollectorRegistry) -> None:
    """``/metrics`` (foundation principals only when ``server.auth.metrics: viewer``), health and ready."""

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if not scope_of(request).is_foundation:  # server.auth.metrics: viewer, and a tenant's token
            return Response("404 page not found\n", status_code=404, media_type="text/plain")
        return Response(
            prometheus_client.generate_latest(registry), media_type=prometheus_client.CONTENT_TYPE_LATEST
        )

    # async: answered on the event loop itself, never queued behind busy worker threads
    @app.get("/-/healthy", include_in_schema=False)
    async def healthy() -> Response:
        return Response("Paramedic is Healthy.\n", media_type="text/plain")

    @app.get("/-/ready", include_in_schema=False)
    async def ready() -> Response:
        return Response("Paramedic is Ready.\n", media_type="text/plain")


def serve(config_path: Path) -> None:
    """Load ``config_path`` and serve until SIGINT/SIGTERM. Every file and folder the server creates is
    private (umask 077): the stores write 0600 files in 0700 folders themselves, and this also covers the
    files that DuckDB, SQLite and the search index create on their own (write-ahead logs, index segments)."""
    os.umask(0o077)
    config = load_config(config_path)
    # Descriptors: the soft limit up to the hard one, the log listeners' caps within it (paramedic.fds).
    nofile = raise_nofile_limit()
    # not even the smallest caps fit: serve degraded (as before the budget existed), say so loudly
    config, warning, degraded = fit_log_listeners(config, nofile)
    if warning is not None:
        log.log(logging.ERROR if degraded else logging.WARNING, "%s", warning)
    try:
        server = Paramedic(
            config,
            base_dir=config_path.resolve().parent,
            config_path=config_path,
            log_backlog=log_backlog(nofile),  # the budget reserves ACCEPT_PASSES of it per stream listener
        )
    except ClusterTLSError as exc:  # a file named by cluster.tls: the message names its key
        raise ConfigError([ConfigProblem(str(config_path), None, "", str(exc))]) from exc
    degraded_gauge(server.registry, degraded)
    uv = _UvicornServer(
        server.begin_shutdown,
        uvicorn.Config(
            server.app,
            host=config.server.listen_host,
            port=config.server.listen_port,
            log_level="info",
            access_log=False,
            lifespan="on",
            # the app has no WebSocket route; an upgrade would hand the connection to another protocol
            # outside the connection guard (paramedic._http_conns), so an Upgrade header is just ignored
            ws="none",
            # asyncio accepts up to the backlog per loop pass before the guard can close any: the
            # descriptor budget reserves three backlogs, smaller where the limit is tight (paramedic.fds)
            backlog=http_backlog(nofile),
            # X-Forwarded-For/-Proto only from these peers (client addresses for log-in throttling, https)
            forwarded_allow_ips=[str(net) for net in config.server.trusted_proxies],
            timeout_graceful_shutdown=max(1, round(config.server.shutdown_grace_s)),
            # h11 reads request lines and headers up to this size: a long PromQL URL (60 KB of escaped
            # parentheses) then gets the API's own 400; at h11's 16 KiB default the server answered 400 and
            # closed while the client was still writing, which the client sometimes saw as a reset
            h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
            # connection caps and a deadline for a request head (paramedic._http_conns)
            http=guarded_h11(
                max_connections=config.server.limits.max_connections,
                max_connections_per_client=config.server.limits.max_connections_per_client,
                request_head_timeout_s=config.server.limits.request_head_timeout_s,
                trusted_proxies=config.server.trusted_proxies,
                registry=server.registry,
            ),
        ),
    )
    log.info("serving on http://%s:%d", config.server.listen_host, config.server.listen_port)
    uv.run()
