"""The scrape manager: discovery per job -> targets (relabel_configs) -> one scrape loop per target.

Startup and reload take the same path, :meth:`ScrapeManager.apply_config`: jobs whose discovery settings
are unchanged keep their discoverer, targets whose identity (URL + labels) is unchanged keep their loop (new
scrape settings reach it at its next scrape), targets that vanish (from discovery or by a config edit) stop
and get staleness markers.

Async safety: every method runs on the event loop that called :meth:`start` (``apply_config`` may be called
before ``start``; it then only records the config). ``targets``/``health`` are cheap snapshots.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import prometheus_client
from prometheus_client import CollectorRegistry

from collector._fetch import new_session
from collector._ingest_batch import IngestBatcher
from collector._metrics import ScrapeMetrics
from collector.config import CollectorConfig, FileJob, PlatformJob, StaticJob
from collector.discovery import TargetGroup, discoverer_for
from collector.errors import DiscoveryError, RelabelError
from collector.exposition import FamilyMeta
from collector.http_client import ScrapeHTTP
from collector.http_config import HTTPClientConfig
from collector.loop import ScrapeLoop
from collector.relabel import CompiledRule, compile_rules
from collector.settings import ScrapeSettings, job_settings
from collector.status import CollectorHealth, TargetStatus
from collector.targets import DroppedTarget, build_targets
from metrics_store.base import Appender
from metrics_store.sched_slice import drop_slice_request
from platforms.base import Platform

__all__ = ["ScrapeManager"]

log = logging.getLogger("collector")
Job = StaticJob | FileJob | PlatformJob

_DISCOVERY_FIELDS = ("type", "targets", "labels", "static_configs", "files", "refresh_interval_s")


_DEFAULT_HTTP_KEY = HTTPClientConfig().http_key()


def _discovery_key(job: Job) -> tuple[object, ...]:
    return tuple(repr(getattr(job, f, None)) for f in _DISCOVERY_FIELDS)


@dataclass(slots=True)
class _JobState:
    config: Job
    settings: ScrapeSettings
    rules: tuple[CompiledRule, ...]
    task: asyncio.Task[None] | None = None
    groups: list[TargetGroup] = field(default_factory=list)
    loops: dict[str, ScrapeLoop] = field(default_factory=dict)
    dropped: list[DroppedTarget] = field(default_factory=list)
    discovery_error: str = ""


class ScrapeManager:
    def __init__(  # noqa: PLR0913 - config, sink, platform; the rest keyword-only with defaults
        self,
        config: CollectorConfig,
        appender: Appender,
        platform: Platform | None,
        *,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
        clock: Callable[[], float] = time.time,
        connector: Callable[[], aiohttp.BaseConnector] | None = None,
        base_dir: Path | None = None,
        max_workers: int = 2,
        max_fetch_threads: int = 16,
        ingest_window_s: float = 0.05,
        on_families: Callable[[Mapping[str, FamilyMeta], tuple[str, str]], None] | None = None,
        on_commit: Callable[[str], None] | None = None,
        owns: Callable[[str], bool] | None = None,
        normalise_float_labels: bool = True,
    ) -> None:
        """``clock`` gives sample timestamps (Unix seconds); ``connector`` builds each target's aiohttp
        connector (default: TCP, two connections); ``base_dir`` resolves relative file_sd paths (default:
        the working directory); ``max_workers`` sizes the thread pool that parses and appends;
        ``max_fetch_threads`` > 0: plain ``http://`` targets without an http config are fetched in that pool
        too (one thread hand-off per scrape instead of two, :mod:`collector._fetch_sync`), at most this many
        at once; the pool grows to ``max_workers`` + this many threads as fetches overlap (threads start only
        when none is idle), and a scrape that finds every fetch thread held (by slow or hung targets, each
        until its deadline) is fetched by aiohttp on the loop as before, so hung targets never delay healthy
        ones; 0: every target is fetched by aiohttp on the loop;
        ``ingest_window_s`` > 0 (with fetch threads): the bodies those threads fetch are parsed and ingested
        by one ingest thread, the bodies of this window at a time (:mod:`collector._ingest_batch`: fewer GIL
        hand-offs and loop wake-ups; a scrape's samples reach the store up to this much later, each with
        its own timestamp); 0: each fetch thread parses its own body; negative: ValueError;
        ``on_families`` receives each scrape's family metadata and its target's (org, space) (e.g.
        :meth:`collector.metadata.MetadataRegistry.observe`), from a worker thread; ``on_commit`` gets the
        job name after each scrape's samples are in the store, on the event loop (e.g.
        :meth:`alerting.rules.RuleManager.notify`: rules evaluate as samples arrive); ``owns`` (several
        replicas, ``paramedic.cluster``) says whether this replica scrapes a target key: the others' targets
        get no loop here, and :meth:`reshard` re-applies it when the membership changes;
        ``normalise_float_labels`` stores ``le``/``quantile`` values as Prometheus 3 does (``le="1"`` as
        ``"1.0"``, ``promql.semantics: "3"``), False keeps them as written (2.42)."""
        self._config = config
        self._appender = appender
        self._platform = platform
        self._clock = clock
        self._connector = connector
        self._base_dir = base_dir or Path.cwd()
        self._max_workers = max_workers
        self._max_fetch_threads = max_fetch_threads if connector is None else 0  # a test's transport: aiohttp
        if not ingest_window_s >= 0:  # NaN too
            raise ValueError(f"ingest_window_s must be >= 0, got {ingest_window_s}")
        self._ingest_window_s = ingest_window_s
        self._batcher: IngestBatcher | None = None
        self._on_families = on_families
        self._on_commit = on_commit
        self._owns = owns
        self._normalise_float_labels = normalise_float_labels
        self._metrics = ScrapeMetrics(registry)
        self._jobs: dict[str, _JobState] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._clients: dict[ScrapeLoop, aiohttp.ClientSession] = {}
        self._http: dict[str, ScrapeHTTP] = {}  # one per distinct http config (TLS, credentials, proxy)
        self._executor: ThreadPoolExecutor | None = None
        self._parse_slots = threading.BoundedSemaphore(max_workers)
        self._fetch_slots = threading.BoundedSemaphore(max(max_fetch_threads, 1))
        self._running = False

    # -- lifecycle ---------------------------------------------------------------------------------------

    @property
    def metrics(self) -> ScrapeMetrics:
        """The ``paramedic_scrape_*`` families: other sources of the collector (the push receivers) count in
        them too, under a job of their own."""
        return self._metrics

    async def start(self) -> None:
        if self._running:
            return
        # started from the event loop: scrapes are background work a waking read may preempt (sched_slice)
        self._executor = ThreadPoolExecutor(
            self._max_workers + self._max_fetch_threads,
            thread_name_prefix="scrape",
            initializer=drop_slice_request,
        )
        # the fetch threads parse and append as many at once as max_workers did (GIL sharing and cache
        # misses grow with the number of threads parsing at the same time)
        self._parse_slots = threading.BoundedSemaphore(self._max_workers)
        self._fetch_slots = threading.BoundedSemaphore(max(self._max_fetch_threads, 1))
        if self._ingest_window_s > 0 and self._max_fetch_threads > 0:
            self._batcher = IngestBatcher(self._ingest_window_s, self._parse_slots)
        self._running = True
        self.apply_config(self._config)

    async def stop(self) -> None:
        """Stop discovery and every loop (no staleness markers: a restart continues the series)."""
        if not self._running:
            return
        self._running = False
        for state in self._jobs.values():
            if state.task is not None:
                state.task.cancel()
        loops = [lp for state in self._jobs.values() for lp in state.loops.values()]
        await asyncio.gather(*(lp.stop(stale=False) for lp in loops), *self._stopping, return_exceptions=True)
        tasks = [s.task for s in self._jobs.values() if s.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        self._jobs.clear()
        await asyncio.gather(*(c.close() for c in self._clients.values()), return_exceptions=True)
        self._clients.clear()
        await asyncio.gather(*(h.close() for h in self._http.values()), return_exceptions=True)
        self._http.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if self._batcher is not None:
            self._batcher.close()
            self._batcher = None

    # -- configuration -----------------------------------------------------------------------------------

    def apply_config(self, config: CollectorConfig) -> None:
        """Make the running jobs match ``config`` (the same path for startup and reload)."""
        self._config = config
        if not self._running:
            return
        wanted = {job.name: job for job in config.jobs}
        for name in list(self._jobs):
            if name not in wanted:
                self._remove_job(name)
        self._prune_http(wanted.values())
        for name, job in wanted.items():
            try:
                rules = compile_rules(job.relabel_configs)
                settings = job_settings(
                    config,
                    job,
                    self._http_for(job),
                    normalise_float_labels=self._normalise_float_labels,
                )
            except RelabelError as exc:
                log.error("job %s: not (re)configured: %s", name, exc)
                continue
            state = self._jobs.get(name)
            if state is None or _discovery_key(state.config) != _discovery_key(job):
                old = self._jobs.pop(name, None)
                new = _JobState(job, settings, rules)
                if old is not None:  # discovery changed: keep loops and groups until it publishes
                    if old.task is not None:
                        old.task.cancel()
                    new.loops, new.groups = old.loops, old.groups
                self._jobs[name] = new
                self._start_discovery(new)
            else:
                state.config, state.settings, state.rules = job, settings, rules
                self._sync(state)

    def _http_for(self, job: Job) -> ScrapeHTTP | None:
        """The shared :class:`ScrapeHTTP` of ``job``'s http settings; None when they are the defaults."""
        key = job.http_key()
        if key == _DEFAULT_HTTP_KEY:
            return None
        http = self._http.get(key)
        if http is None:
            http = ScrapeHTTP(job, self._base_dir, token_requests=self._metrics.oauth2_tokens)
            self._http[key] = http
        return http

    def _prune_http(self, jobs: Iterable[Job]) -> None:
        """Forget the http clients no job uses any more (their token sessions are closed)."""
        keep = {job.http_key() for job in jobs}
        for key in [k for k in self._http if k not in keep]:
            task = asyncio.get_running_loop().create_task(self._http.pop(key).close())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    def _start_discovery(self, state: _JobState) -> None:
        name = state.config.name

        def on_error(exc: DiscoveryError) -> None:
            state.discovery_error = str(exc)
            self._metrics.discovery_errors.labels(name).inc()

        def publish(groups: list[TargetGroup]) -> None:
            state.groups = groups
            state.discovery_error = ""
            self._sync(state)

        try:
            discoverer = discoverer_for(state.config, self._platform, self._base_dir, on_error)
        except DiscoveryError as exc:
            log.error("job %s: %s", name, exc)
            on_error(exc)
            return
        state.task = asyncio.get_running_loop().create_task(discoverer.run(publish), name=f"discovery {name}")

    def _remove_job(self, name: str) -> None:
        """Stop a removed job's discovery and its loops (with staleness markers)."""
        state = self._jobs.pop(name)
        if state.task is not None:
            state.task.cancel()
        for lp in state.loops.values():
            self._stop_loop(lp)
        self._metrics.targets.labels(name).set(0)

    def _new_client(self) -> aiohttp.ClientSession:
        # One small session per target: a target needs one keep-alive connection, and a shared pool would
        # make targets contend for it (with httpcore a shared pool cost O(targets) per scrape).
        return new_session(self._connector)

    async def _stop_and_close(self, lp: ScrapeLoop, *, stale: bool = True) -> None:
        try:
            await lp.stop(stale=stale)
        finally:
            client = self._clients.pop(lp, None)
            if client is not None:
                await client.close()

    def _stop_loop(self, lp: ScrapeLoop, *, stale: bool = True) -> None:
        task = asyncio.get_running_loop().create_task(self._stop_and_close(lp, stale=stale))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def _sync(self, state: _JobState) -> None:
        """Reconcile a job's loops with its current groups and config."""
        if not self._running or self._executor is None:
            return
        job, s = state.config, state.settings
        targets, dropped, errors = build_targets(
            job.name,
            state.groups,
            state.rules,
            scheme=job.scheme,
            metrics_path=job.metrics_path,
            interval_s=s.interval_s,
            timeout_s=s.timeout_s,
            params=job.params,
        )
        for err in errors:
            log.error("%s", err)
        state.dropped = dropped
        current = {t.key: t for t in targets}
        if self._owns is not None:  # another replica's targets: it scrapes them (no staleness from here)
            theirs = {k for k in current if not self._owns(k)}
            for key in theirs & set(state.loops):
                log.info("job %s: target %s moved to another replica", job.name, state.loops[key].target.url)
                self._stop_loop(state.loops.pop(key), stale=False)
            current = {k: t for k, t in current.items() if k not in theirs}
        for key in list(state.loops):
            if key not in current:
                log.info("job %s: target %s is gone", job.name, state.loops[key].target.url)
                self._stop_loop(state.loops.pop(key))
        for key, target in current.items():
            existing = state.loops.get(key)
            if existing is not None:
                existing.update(target, s)
                continue
            client = self._new_client()
            lp = ScrapeLoop(
                target,
                s,
                appender=self._appender,
                client=client,
                executor=self._executor,
                metrics=self._metrics,
                clock=self._clock,
                on_families=self._on_families,
                on_commit=self._on_commit,
                fetch_in_thread=self._max_fetch_threads > 0,
                parse_slots=self._parse_slots,
                fetch_slots=self._fetch_slots,
                batcher=self._batcher,
            )
            state.loops[key] = lp
            self._clients[lp] = client
            lp.start()
        self._metrics.targets.labels(job.name).set(len(state.loops))

    def reshard(self) -> None:
        """The membership changed: start the loops of targets this replica now owns, stop the others'.
        Call on the event loop that runs the manager."""
        for state in self._jobs.values():
            self._sync(state)

    def owned_count(self) -> int:
        """Targets with a scrape loop here."""
        return sum(len(state.loops) for state in self._jobs.values())

    # -- reporting ---------------------------------------------------------------------------------------

    def targets(self) -> list[TargetStatus]:
        """Active targets, by job then URL."""
        out = [lp.status() for state in self._jobs.values() for lp in state.loops.values()]
        return sorted(out, key=lambda t: (t.job, t.scrape_url, t.labels))

    def dropped_targets(self) -> list[DroppedTarget]:
        """Targets that relabel_configs dropped."""
        return [d for state in self._jobs.values() for d in state.dropped]

    def health(self) -> CollectorHealth:
        statuses = self.targets()
        errors = {name: s.discovery_error for name, s in self._jobs.items() if s.discovery_error}
        return CollectorHealth(
            ok=self._running and not errors,
            running=self._running,
            targets_up=sum(t.health == "up" for t in statuses),
            targets_down=sum(t.health == "down" for t in statuses),
            targets_unknown=sum(t.health == "unknown" for t in statuses),
            discovery_errors=errors,
        )
