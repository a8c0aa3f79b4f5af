"""One scrape loop per target: schedule, fetch, parse + ingest in a worker thread, report, log state changes.

Scheduling: each target is scraped once per interval at a fixed phase derived from its identity
(``Target.offset_fraction``), aligned on the wall clock like Prometheus, so targets of a job do not all fire
at once. A scrape that overruns its slot skips the missed slots instead of bunching up.

Isolation: fetching is bounded by the target's timeout and body limit; parsing, relabeling and the
(possibly durable, hence blocking) ``Appender.append`` run in the manager's thread pool, so a big or slow
target never blocks the event loop and thereby other targets' schedules. A plain ``http://`` target without
an http config is fetched in that pool thread too (``fetch_in_thread``: one hand-off per scrape; the loop
shuts the socket down at the deadline); any other target is fetched by aiohttp on the loop.

Thread/async safety: a loop is driven from the event loop that created it; ``update`` may be called there at
any time and takes effect at the next scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from prometheus_client import Counter, Histogram

from collector._fetch import fetch, scrape_headers
from collector._fetch_sync import PlainFetcher, Redirected
from collector._ingest_batch import Done, IngestBatcher, as_error, settle
from collector._metrics import ScrapeMetrics
from collector.cache import IngestResult, ScrapeCache
from collector.errors import ScrapeError, ScrapeParseError
from collector.exposition import FamilyMeta, ParseError, ParseMemo, default_parser
from collector.metadata import tenant_of
from collector.settings import ScrapeSettings
from collector.status import TargetStatus
from collector.targets import Target
from metrics_store.base import Appender, StoreError
from metrics_store.redact import redact_text

__all__ = ["ScrapeLoop"]

log = logging.getLogger("collector.scrape")
T = TypeVar("T")


def _global_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        netloc = socket.gethostname() + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


class _Slot:
    """A held fetch slot, released once: by the fetch thread when its body is queued for the ingest
    thread (the fetch is over), else by the scrape when it ends."""

    __slots__ = ("_lock", "_sem")

    def __init__(self, sem: threading.Semaphore) -> None:
        self._sem: threading.Semaphore | None = sem
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            sem, self._sem = self._sem, None
        if sem is not None:
            sem.release()


class _JobMetrics:
    """A job's metric children that every scrape touches, resolved once per job instead of per scrape
    (``labels()`` builds a key and takes a lock). The success-only ones are created at the first success,
    so a target that never answers exports no zero ``result="success"`` series, as before."""

    __slots__ = ("appended", "duration", "ingest_wait", "job", "stale", "start_lag", "success")

    def __init__(self, m: ScrapeMetrics, job: str) -> None:
        self.job = job
        self.start_lag: Histogram = m.start_lag.labels(job)
        self.duration: Histogram = m.duration.labels(job)
        self.ingest_wait: Histogram = m.ingest_wait.labels(job)
        self.stale: Counter = m.stale_markers.labels(job)
        self.success: Counter | None = None
        self.appended: Counter | None = None


class ScrapeLoop:
    def __init__(  # noqa: PLR0913 - a target, its settings and the manager's shared pieces, keyword-only
        self,
        target: Target,
        settings: ScrapeSettings,
        *,
        appender: Appender,
        client: aiohttp.ClientSession,
        executor: Executor,
        metrics: ScrapeMetrics,
        clock: Callable[[], float],
        on_families: Callable[[Mapping[str, FamilyMeta], tuple[str, str]], None] | None = None,
        on_commit: Callable[[str], None] | None = None,
        fetch_in_thread: bool = False,
        parse_slots: threading.Semaphore | None = None,
        fetch_slots: threading.Semaphore | None = None,
        batcher: IngestBatcher | None = None,
    ) -> None:
        """``on_families`` receives every parsed scrape's family metadata and the target's (org, space)
        labels (:func:`collector.metadata.tenant_of`: a family's HELP is the tenant's to hide), in the
        worker thread;
        ``on_commit`` gets the job name after each scrape's samples (or its failure report: ``up`` 0) are
        in the store, on the event loop; it must be cheap (e.g. set an asyncio.Event).
        ``fetch_in_thread``: a plain ``http://`` target without an http config is fetched in the scrape
        thread that parses it (:class:`~collector._fetch_sync.PlainFetcher`; ``client`` unused for it), so
        the scrape crosses threads once; the executor must then have a thread for each of ``fetch_slots``
        (a fetch holds its thread until the target answers or the deadline) plus the parse workers, and
        ``parse_slots`` (shared by the manager's loops) bounds how many of them parse and append at once;
        ``fetch_slots`` (shared too) how many fetch at once: a scrape that finds none free goes to aiohttp;
        ``batcher``: a body fetched in a thread is parsed and ingested by the manager's ingest thread with
        the other bodies of a short window (:mod:`collector._ingest_batch`), not by its fetch thread."""
        self._target = target
        self._settings = settings
        self._pending: ScrapeSettings | None = None
        self._client = client
        self._executor = executor
        self._metrics = metrics
        self._jm = _JobMetrics(metrics, settings.job)
        self._clock = clock
        self._cache = ScrapeCache(appender, target.labels, settings)
        self._memo = ParseMemo()  # the template of this target's last body: the steady-state parse
        self._task: asyncio.Task[None] | None = None
        self._health = "unknown"
        self._last_error = ""
        self._last_scrape: float | None = None  # wall clock; a datetime only when status() asks
        self._last_duration = 0.0
        self._logged_state: str | None = None
        self._global_url = _global_url(target.url)
        self._on_families = on_families
        self._on_commit = on_commit
        self._headers: tuple[float, dict[str, str]] = (-1.0, {})
        self._fetch_in_thread = fetch_in_thread
        self._plain: PlainFetcher | None = None
        self._unexpected: type[BaseException] | None = None  # the last unexpected error's type, logged
        self._parse_slots = parse_slots if parse_slots is not None else threading.Semaphore(1 << 30)
        self._fetch_slots = fetch_slots if fetch_slots is not None else threading.Semaphore(1 << 30)
        self._batcher = batcher
        self._batch_wait: float | None = None  # this scrape's wait for the ingest thread (not its duration)
        self._parse_cpu: float | None = None  # the last parse + ingest's thread CPU; None: not measured yet

    @property
    def target(self) -> Target:
        return self._target

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"scrape {self._target.url}")

    def update(self, target: Target, settings: ScrapeSettings) -> None:
        """New target details (discovered labels, interval) and job settings; applied at the next scrape."""
        self._target = target
        if settings != self._settings:
            self._pending = settings

    async def stop(self, *, stale: bool) -> None:
        """Stop the loop (an in-flight ingest finishes first). ``stale``: the target is gone, so append
        staleness markers for its series (not done on shutdown, as in Prometheus)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._plain is not None:
            self._plain.close()
            self._plain = None
        if stale:
            ts_ms = int(self._clock() * 1000)
            try:
                n = await self._in_thread(self._cache.end, ts_ms)
            except StoreError as exc:
                log.error("target %s: cannot append staleness markers: %s", self._target.url, exc)
            else:
                self._jm.stale.inc(n)

    def status(self) -> TargetStatus:
        t = self._target
        return TargetStatus(
            job=t.job,
            scrape_url=t.url,
            global_url=self._global_url,
            labels=t.labels,
            discovered_labels=t.discovered_labels,
            health=self._health,
            last_error=self._last_error,
            last_scrape=None if self._last_scrape is None else datetime.fromtimestamp(self._last_scrape, UTC),
            last_scrape_duration_s=self._last_duration,
            interval_s=t.interval_s,
            timeout_s=min(t.timeout_s, self._settings.timeout_s),
        )

    async def _in_thread(
        self, fn: Callable[..., T], *args: object, on_cancel: Callable[[], object] | None = None
    ) -> T:
        """Run ``fn`` in the pool; if cancelled meanwhile, call ``on_cancel`` (cut a fetch short) and wait
        for ``fn`` to finish before re-raising so the cache is never used by two threads."""
        fut = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            if on_cancel is not None:
                on_cancel()
            await asyncio.wait([fut])
            if not fut.cancelled():
                fut.exception()  # retrieved: the cut-short fetch's error is expected, not worth a log line
            raise

    def _plain_fetcher(self) -> PlainFetcher | None:
        """The target's blocking fetcher when this scrape can take the one-hand-off path, else None."""
        if not self._fetch_in_thread or self._settings.http is not None:
            if self._plain is not None:  # the job got an http config: aiohttp from now
                self._plain.close()
                self._plain = None
            return None
        url = self._target.url
        if self._plain is not None and self._plain.url == url:
            return self._plain
        if self._plain is not None:
            self._plain.close()
            self._plain = None
        if url.startswith("http://"):
            try:
                self._plain = PlainFetcher(url)
            except ValueError:
                return None
        return self._plain

    def _fetch_parse_ingest(
        self,
        plain: PlainFetcher,
        headers: dict[str, str],
        timeout_s: float,
        deadline: float,
        ts_ms: int,
        started: float,
    ) -> IngestResult:
        body, ctype = plain.fetch(
            headers, timeout_s=timeout_s, deadline=deadline, max_body_bytes=self._settings.max_body_bytes
        )
        return self._parse_slotted(body, ctype, ts_ms, started)

    def _parse_slotted(
        self, body: bytes, content_type: str | None, ts_ms: int, started: float
    ) -> IngestResult:
        """:meth:`_parse_and_ingest` in one of the manager's parse slots, whichever thread fetched the body:
        CPU-bound, so as many at once as the parse workers (the pool has more threads, for fetches)."""
        with self._parse_slots:
            return self._parse_and_ingest(body, content_type, ts_ms, started)

    async def _scrape_in_thread(
        self, plain: PlainFetcher, timeout_s: float, ts_ms: int, started: float, slot: _Slot
    ) -> IngestResult:
        """Fetch, parse and ingest in one pool call; the loop only resolves a host name (when a connection
        is to be opened) and enforces the fetch's deadline."""
        deadline = time.monotonic() + timeout_s
        await plain.ensure_address(timeout_s)  # waits only when no connection is kept alive
        left = max(deadline - time.monotonic(), 0.0)
        timer = asyncio.get_running_loop().call_later(left, plain.abort)
        if self._batcher is not None:
            try:
                return await self._fetch_then_batch(
                    self._batcher, plain, timeout_s, deadline, ts_ms, started, slot
                )
            finally:
                timer.cancel()
        try:
            return await self._in_thread(
                self._fetch_parse_ingest,
                plain,
                self._headers[1],
                timeout_s,
                deadline,
                ts_ms,
                started,
                on_cancel=plain.abort,
            )
        finally:
            timer.cancel()

    async def _fetch_then_batch(
        self,
        batcher: IngestBatcher,
        plain: PlainFetcher,
        timeout_s: float,
        deadline: float,
        ts_ms: int,
        started: float,
        slot: _Slot,
    ) -> IngestResult:
        """Fetch in a pool thread, which queues the body for the ingest thread and frees its fetch slot
        (the thread is free too). The fetch thread parses the body itself, keeping its slot, when this
        target's last parse cost over the batcher's ``slow_parse_s`` (or none is measured yet) or the
        batcher refuses it (a big body, a full queue, a busy ingest thread): a slow parse never holds up
        other targets' bodies for long. The pool call is not awaited: the ingest thread (or the fetch
        thread, on a failure or when it parses) settles ``fut``, so the loop wakes once per batch rather than
        once per pool call. Cancelled (the loop stops): the fetch is
        cut short and the scrape's parse awaited, so the cache is never used by two threads."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[IngestResult] = loop.create_future()
        headers, max_body = self._headers[1], self._settings.max_body_bytes

        def fetch_and_queue() -> None:
            try:
                body, ctype = plain.fetch(
                    headers, timeout_s=timeout_s, deadline=deadline, max_body_bytes=max_body
                )
                queued = time.perf_counter()  # the wait for the ingest thread is not the scrape's

                def ingest() -> IngestResult:
                    # read by _scrape_once after fut is settled (the loop's wake-up orders the two threads)
                    self._batch_wait = wait = time.perf_counter() - queued
                    return self._timed_parse(body, ctype, ts_ms, started + wait)

                cpu = self._parse_cpu
                if (
                    cpu is not None
                    and cpu <= batcher.slow_parse_s
                    and batcher.submit(ingest, len(body), loop, fut)
                ):
                    slot.release()  # the fetch is over; the ingest queue has its own bound
                    return
                with self._parse_slots:
                    result = self._timed_parse(body, ctype, ts_ms, started)
                ok: list[Done] = [(fut, result, None)]
                loop.call_soon_threadsafe(settle, ok)
            except BaseException as exc:  # the scrape's error (a ScrapeError, Redirected, a bug)
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody awaits the scrape
                    failed: list[Done] = [(fut, None, as_error(exc))]
                    loop.call_soon_threadsafe(settle, failed)

        self._executor.submit(fetch_and_queue)
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            plain.abort()
            await asyncio.wait([fut])
            if not fut.cancelled():
                fut.exception()  # retrieved: the cut-short fetch's error is expected, not worth a log line
            raise

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self._target.interval_s
        phase = self._target.offset_fraction * interval
        next_at = loop.time() + (phase - self._clock()) % interval
        while True:
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._jm.start_lag.observe(max(loop.time() - next_at, 0.0))
            await self._scrape_once()
            interval = self._target.interval_s
            next_at += interval
            now = loop.time()
            if next_at <= now:
                next_at += math.ceil((now - next_at) / interval + 1e-9) * interval

    def _timed_parse(self, body: bytes, content_type: str | None, ts_ms: int, started: float) -> IngestResult:
        """:meth:`_parse_and_ingest`, its thread CPU kept: whether the next body may join the batch."""
        t0 = time.thread_time()
        try:
            return self._parse_and_ingest(body, content_type, ts_ms, started)
        finally:
            self._parse_cpu = time.thread_time() - t0

    def _parse_and_ingest(
        self, body: bytes, content_type: str | None, ts_ms: int, started: float
    ) -> IngestResult:
        try:
            s = self._settings
            parser = default_parser(utf8_names=s.utf8_names, normalise_float_labels=s.normalise_float_labels)
            exposition = parser.parse(body, content_type, self._memo)
        except ParseError as exc:
            raise ScrapeParseError(f"invalid exposition: {exc}") from exc
        result = self._cache.ingest(exposition, ts_ms, started, time.perf_counter())
        if self._on_families is not None:  # after ingest: a scrape its limits reject leaves no metadata
            self._on_families(exposition.families, tenant_of(self._target.labels))
        return result

    async def _scrape_once(self) -> None:
        if self._pending is not None:
            self._settings, self._pending = self._pending, None
            if self._settings.job != self._jm.job:
                self._jm = _JobMetrics(self._metrics, self._settings.job)
            self._cache.reconfigure(self._settings)
        s, t = self._settings, self._target
        started = time.perf_counter()
        wall = self._clock()
        ts_ms = int(wall * 1000)
        error: ScrapeError | None = None
        result: IngestResult | None = None
        timeout_s = min(t.timeout_s, s.timeout_s)
        if self._headers[0] != timeout_s:
            self._headers = (timeout_s, scrape_headers(timeout_s, s.escaping))
        plain = self._plain_fetcher()
        # a fetch thread for this scrape, or aiohttp if every one is held (by slow or hung targets, each until
        # its deadline): the pool has max_workers threads beyond the fetch slots, so the parse of an aiohttp
        # scrape never waits behind hung fetches
        slot = plain is not None and self._fetch_slots.acquire(blocking=False)
        try:
            if plain is not None and slot:
                held = _Slot(self._fetch_slots)  # freed when the fetch ends (ingest thread) or here
                try:
                    result = await self._scrape_in_thread(plain, timeout_s, ts_ms, started, held)
                except Redirected:  # aiohttp follows redirects: this target is fetched on the loop from now
                    self._fetch_in_thread = False
                    plain.close()
                    self._plain = plain = None
                finally:
                    held.release()
            if result is None:
                body, ctype = await fetch(
                    self._client,
                    t.url,
                    self._headers[1],
                    timeout_s=max(timeout_s - (time.perf_counter() - started), 0.001),
                    max_body_bytes=s.max_body_bytes,
                    http=s.http,
                )
                result = await self._in_thread(self._parse_slotted, body, ctype, ts_ms, started)
        except ScrapeError as exc:
            error = exc
        except StoreError as exc:
            error = ScrapeError(f"cannot append to the store: {exc}")
            error.reason = "append"
        except Exception as exc:  # a bug of ours (or a library's) fails this scrape, not the target's loop
            error = self._unexpected_error(exc)
        wait, self._batch_wait = self._batch_wait, None
        duration = time.perf_counter() - started  # the scrape's own time: not its wait for the ingest thread
        if wait is not None:
            duration -= wait
            self._jm.ingest_wait.observe(wait)
        if error is None:
            self._unexpected = None  # recovered: the next unexpected error gets its traceback again
        if error is not None and error.reason != "append":
            try:
                stale = await self._in_thread(self._cache.fail, ts_ms, duration)
                self._jm.stale.inc(stale)
            except StoreError as exc:
                log.error("target %s: cannot append the failed scrape's report: %s", t.url, exc)
        self._record(wall, duration, result, error)
        if self._on_commit is not None and (error is None or error.reason != "append"):
            self._on_commit(s.job)

    def _unexpected_error(self, exc: Exception) -> ScrapeError:
        """The scrape's error for an exception no fetch or parse error covers; its traceback is logged
        once per kind of error (a target failing every scrape the same way would bury the log), at debug
        level while the same kind repeats."""
        if type(exc) is not self._unexpected:
            self._unexpected = type(exc)
            log.exception("target %s: unexpected error in the scrape", self._target.url)
        else:
            log.debug("target %s: unexpected error in the scrape", self._target.url, exc_info=True)
        return ScrapeError(f"unexpected error: {type(exc).__name__}: {exc}")

    def _record(
        self, wall: float, duration: float, result: IngestResult | None, error: ScrapeError | None
    ) -> None:
        job, m, jm = self._settings.job, self._metrics, self._jm
        self._last_scrape = wall
        self._last_duration = duration
        jm.duration.observe(duration)
        if error is None and result is not None:
            self._health, self._last_error = "up", ""
            if jm.success is None or jm.appended is None:
                jm.success = m.scrapes.labels(job, "success")
                jm.appended = m.samples_appended.labels(job)
            jm.success.inc()
            jm.appended.inc(result.appended)
            if result.dropped_by_relabel:
                m.samples_dropped.labels(job, "relabel").inc(result.dropped_by_relabel)
            if result.duplicates:
                m.samples_dropped.labels(job, "duplicate").inc(result.duplicates)
            jm.stale.inc(result.stale_markers)
            if self._logged_state not in (None, "up"):
                log.info("target %s is up again", self._target.url)
            self._logged_state = "up"
            return
        if error is None:
            error = ScrapeError("scrape produced no result")
        self._health, self._last_error = "down", redact_text(str(error))
        m.scrapes.labels(job, "failure").inc()
        m.errors.labels(job, error.reason).inc()
        if self._logged_state != error.reason:
            log.warning("scrape of %s failed (%s): %s", self._target.url, error.reason, error)
            self._logged_state = error.reason
