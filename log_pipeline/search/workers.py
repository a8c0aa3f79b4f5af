"""Search worker processes: log searches run outside the server's GIL.

A log search is CPU work that holds the GIL for long stretches (tantivy-py builds a wildcard's automaton,
searches and loads documents while holding it; highlighting and encoding are Python). In the server's own
threads every ordinary request would queue behind it, whatever their CPU priority. :class:`SearchWorkerPool`
runs searches, histograms and context (query, highlight, encode and gzip: the whole response body) in
``search_processes`` worker processes instead, each with the embedded store opened read-only
(:class:`~log_pipeline.search.tantivy_store.TantivyReader`: it takes up new commits and
partitions, and forgets partitions retention deleted, before every query). The server keeps writing.

Rules:

* a call waits for a free worker only while fewer than ``max_queued_searches`` calls wait; beyond that it
  is refused at once with :class:`~log_pipeline.search.base.SearchBusyError` (HTTP 503 with
  ``Retry-After``), and a call that found no free worker within twice ``search_deadline_s`` (time for one
  overrun to be killed and replaced) gets the same answer: no backlog builds up;
* a worker that has not answered within ``search_deadline_s`` is killed and replaced; its caller gets
  :class:`~log_pipeline.search.base.SearchTimeoutError`. A worker that dies (crash, OOM kill) is replaced; its
  caller gets a :class:`~log_pipeline.search.base.SearchError`. Either way the next search works;
* workers run at nice ``nice`` (below the query API), are started with ``spawn`` (the server is threaded)
  and stop with :meth:`close`; if the server dies they see their pipe close and exit.

Metrics: ``paramedic_log_search_workers`` (live processes), ``paramedic_log_search_in_flight``,
``paramedic_log_search_queued``, ``paramedic_log_search_rejected_total``,
``paramedic_log_search_worker_restarts_total{reason="crash"|"deadline"}`` (``deadline``: the deadline kills).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import queue
import select
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from log_pipeline.config import SearchApiConfig
from log_pipeline.search._search_worker import Job, serve
from log_pipeline.search.base import Bucket, SearchBusyError, SearchError, SearchTimeoutError
from log_pipeline.search.query import QuerySyntaxError
from log_pipeline.search.render import Body, SearchArgs
from metrics_store.background import BACKGROUND_NICE
from platforms.tenancy import FOUNDATION, Scope

__all__ = ["SearchWorkerPool", "WorkerTarget"]

WorkerTarget = Callable[[Connection, str, int, int], None]  # (conn, root, partition_s, nice)
_log = logging.getLogger(__name__)
_STOP_WAIT_S = 2.0
_CARRY_S = 1.0  # past the deadline, for an answer whose first bytes came in time to arrive whole
_READ_BYTES = 1 << 20
_MAX_ANSWER_BYTES = 1 << 31  # far above any answer the limits allow: a larger length is a broken stream


class _OverrunError(Exception):
    """The answer did not arrive whole by the deadline."""


class _StreamError(Exception):
    """The worker's stream is not a well-formed answer: the worker cannot be used again."""


def _read_exact(fd: int, n: int, deadline: float, poller: select.poll) -> bytes:
    """``n`` bytes from ``fd`` (blocking mode: a read returns what is there), waiting at most until
    ``deadline`` (bytes already there are taken even past it); EOFError when the other end closed. Memory
    grows with the bytes that arrive, not with the length announced."""
    chunks: list[bytes] = []
    got = 0
    while got < n:
        left = max(0.0, deadline - time.monotonic())
        if not poller.poll(left * 1000):
            raise _OverrunError
        chunk = os.read(fd, min(n - got, _READ_BYTES))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _recv_by(conn: Connection, deadline: float) -> Any:
    """``conn.recv()`` that gives up at ``deadline`` (:class:`_OverrunError`): the frame
    ``multiprocessing.connection.Connection`` writes (a 4-byte big-endian length, -1 then an 8-byte one for
    2 GiB and over, then the pickle), read with a timeout on every wait instead of blocking until whole.
    A length that cannot be an answer raises :class:`_StreamError`."""
    fd = conn.fileno()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    (size,) = struct.unpack("!i", _read_exact(fd, 4, deadline, poller))
    if size == -1:
        (size,) = struct.unpack("!Q", _read_exact(fd, 8, deadline, poller))
    if not 0 < size <= _MAX_ANSWER_BYTES:
        raise _StreamError(f"an answer of {size} bytes announced")
    # what Connection.recv does with the bytes; they come from our own worker process, as before
    return pickle.loads(_read_exact(fd, size, deadline, poller))  # noqa: S301


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.workers = Gauge(
            "paramedic_log_search_workers", "Live log search worker processes.", registry=registry
        )
        self.in_flight = Gauge(
            "paramedic_log_search_in_flight", "Log searches running in a worker process.", registry=registry
        )
        self.queued = Gauge(
            "paramedic_log_search_queued", "Log searches waiting for a worker process.", registry=registry
        )
        self.rejected = Counter(
            "paramedic_log_search_rejected_total",
            "Log searches refused as busy (all workers busy and the line full, or no worker in time).",
            registry=registry,
        )
        self.restarts = Counter(
            "paramedic_log_search_worker_restarts_total",
            "Search worker processes replaced: crash (it died) or deadline (killed past the deadline).",
            ["reason"],
            registry=registry,
        )
        for reason in ("crash", "deadline"):
            self.restarts.labels(reason)


class _Worker:
    """One worker process and the server's end of its pipe (``proc`` None: not running, start on use)."""

    def __init__(self, proc: BaseProcess | None = None, conn: Connection | None = None) -> None:
        self.proc, self.conn = proc, conn

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid


class SearchWorkerPool:
    """A :class:`~log_pipeline.search.executor.SearchExecutor` over worker processes that read the embedded
    store at ``root`` (``partition_s`` as its writer's). ``limits``: ``logs.search_api``
    (``search_processes``, ``max_queued_searches``, ``search_deadline_s``). :meth:`start` before use,
    :meth:`close` after; ``target`` is the worker's main function (default
    :func:`log_pipeline.search._search_worker.serve`)."""

    def __init__(
        self,
        root: Path,
        *,
        partition_s: int,
        limits: SearchApiConfig,
        start_timeout_s: float = 60.0,
        nice: int = BACKGROUND_NICE,
        registry: CollectorRegistry = REGISTRY,
        target: WorkerTarget = serve,
    ) -> None:
        processes, max_queued = limits.search_processes, limits.max_queued_searches
        if processes < 1:
            raise ValueError("a search worker pool needs logs.search_api.search_processes >= 1")
        self._root, self._partition_s, self._nice, self._target = str(root), partition_s, nice, target
        self._processes, self._max_queued = processes, max_queued
        self._deadline_s, self._start_timeout_s = limits.search_deadline_s, start_timeout_s
        self._metrics = _Metrics(registry)
        self._ctx = multiprocessing.get_context("spawn")
        # last in, first out: the worker that answered last takes the next search. Its memory (the Python
        # heap, tantivy's readers, the pages of the index it touched) is the likeliest still in the CPU's
        # caches; in a burst, round robin over the workers would run each one on caches the others evicted.
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()  # guards _admitted, _all and _closed
        self._admitted = 0
        self._closed = False
        self._threads = ThreadPoolExecutor(processes + max_queued, thread_name_prefix="log-search-wait")

    # ---- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every worker and wait until each has its store open (in parallel)."""
        started = [self._launch() for _ in range(self._processes)]
        for worker in started:
            self._await_ready(worker)
            with self._lock:
                self._all.append(worker)
            self._idle.put(worker)

    def pids(self) -> list[int]:
        """The process ids of the live workers."""
        with self._lock:
            return [
                w.pid for w in self._all if w.pid is not None and w.proc is not None and w.proc.is_alive()
            ]

    def close(self) -> None:
        """Stop every worker and refuse further calls: its pipe is closed (an idle worker exits at once), and
        one still running after 2 s (busy with a search) is killed. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._all)
        for _ in range(self._processes + self._max_queued):
            self._idle.put(None)  # wakes every thread waiting for a worker
        for worker in workers:
            self._stop(worker)
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _launch(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=self._target,
            args=(child, self._root, self._partition_s, self._nice),
            name="paramedic-log-search",
            daemon=True,
        )
        proc.start()
        child.close()  # the worker holds the only other end: its end of file is our death
        self._metrics.workers.inc()
        return _Worker(proc, parent)

    def _await_ready(self, worker: _Worker) -> None:
        conn = worker.conn
        try:
            if conn is not None and conn.poll(self._start_timeout_s):
                status, detail = conn.recv()
                if status == "ready":
                    return
                _log.error("a log search worker could not start: %s", detail)
            else:
                _log.error("a log search worker did not start within %.0f s", self._start_timeout_s)
        except (EOFError, OSError) as exc:
            _log.error("a log search worker died while starting: %s", exc)
        self._kill(worker)  # left not running: the next call that takes it starts it again

    def _kill(self, worker: _Worker) -> None:
        with self._lock:  # close() and a caller's restart may race for the same worker: one of them kills it
            proc, conn = worker.proc, worker.conn
            worker.proc = worker.conn = None
        if conn is not None:
            conn.close()
        if proc is not None:
            proc.kill()
            proc.join(_STOP_WAIT_S)
            with contextlib.suppress(ValueError):
                proc.close()
            self._metrics.workers.dec()

    def _stop(self, worker: _Worker) -> None:
        proc, conn = worker.proc, worker.conn
        if proc is None:
            return
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()  # an idle worker reads end of file and exits
        proc.join(_STOP_WAIT_S)
        self._kill(worker)

    def _restart(self, worker: _Worker, reason: str) -> None:
        self._kill(worker)
        self._metrics.restarts.labels(reason).inc()
        with self._lock:
            if self._closed:
                return
        replacement = self._launch()
        worker.proc, worker.conn = replacement.proc, replacement.conn
        self._await_ready(worker)
        with self._lock:
            closed = self._closed
        if closed:  # close() ran meanwhile and did not see this process
            self._kill(worker)

    # ---- calls -------------------------------------------------------------------------------------

    async def _run(self, job: Job) -> Any:
        with self._lock:
            if self._closed:
                raise SearchError("the log search workers are stopped")
            if self._admitted >= self._processes + self._max_queued:
                self._metrics.rejected.inc()
                raise SearchBusyError(
                    f"all {self._processes} log search workers are busy and {self._max_queued} searches "
                    "wait (logs.search_api.max_queued_searches): try again"
                )
            self._admitted += 1
        try:
            fut: Future[Any] = self._threads.submit(self._call, job)
        except RuntimeError as exc:  # closed meanwhile
            self._release(None)
            raise SearchError("the log search workers are stopped") from exc
        fut.add_done_callback(self._release)  # also when cancelled before it ran
        return await asyncio.wrap_future(fut)

    def _release(self, _fut: Future[Any] | None) -> None:
        with self._lock:
            self._admitted -= 1

    def _take(self) -> _Worker:
        wait_s = 2 * self._deadline_s + _CARRY_S
        self._metrics.queued.inc()
        try:
            worker = self._idle.get(timeout=wait_s)  # one overrun, its kill and respawn
        except queue.Empty:
            self._metrics.rejected.inc()
            raise SearchBusyError(f"the log search workers stayed busy for {wait_s:g} s: try again") from None
        finally:
            self._metrics.queued.dec()
        if worker is None:
            self._idle.put(None)  # for the next waiter
            raise SearchError("the log search workers are stopped")
        return worker

    def _call(self, job: Job) -> Any:
        worker = self._take()
        self._metrics.in_flight.inc()
        try:
            if worker.conn is None:  # it failed to start earlier
                self._restart(worker, "crash")
            return self._exchange(worker, job)
        finally:
            self._metrics.in_flight.dec()
            self._idle.put(worker)

    def _exchange(self, worker: _Worker, job: Job) -> Any:
        conn = worker.conn
        if conn is None:
            raise SearchError("no log search worker could be started (see the server log)")
        started = time.monotonic()
        try:
            conn.send(job)
            # the answer starts by the deadline, and is whole a moment later: a worker stopped, frozen or
            # swapped out half-way through writing it must not hold this thread past it
            if not conn.poll(self._deadline_s):
                raise _OverrunError
            status, payload = _recv_by(conn, started + self._deadline_s + _CARRY_S)
        except _OverrunError:
            self._restart(worker, "deadline")
            raise SearchTimeoutError(
                f"the search ran longer than {self._deadline_s:g} s (logs.search_api.search_deadline_s) "
                "and was stopped"
            ) from None
        except (EOFError, OSError) as exc:
            with self._lock:
                closed = self._closed
            if closed:
                raise SearchError("the log search workers are stopped") from exc
            self._restart(worker, "crash")
            raise SearchError(
                f"the log search worker stopped after {time.monotonic() - started:.1f} s "
                "while answering: the search was not completed"
            ) from exc
        except BaseException as exc:  # a broken stream, no memory for the answer, ...: the rest is unread
            self._restart(worker, "crash")  # never hand a worker mid-answer to the next caller
            if not isinstance(exc, Exception):
                raise
            _log.warning("a log search worker's answer could not be read (%s): worker replaced", exc)
            raise SearchError(
                "the log search worker's answer could not be read: the search was not completed"
            ) from exc
        if status == "ok":
            return payload
        if isinstance(payload, SearchError | QuerySyntaxError):
            raise payload
        raise SearchError(f"unexpected answer from a log search worker: {status!r}")

    # ---- SearchExecutor ----------------------------------------------------------------------------

    # every job carries the reader's scope (pickled with it): the worker's store filters by it

    async def search_body(
        self,
        args: SearchArgs,
        highlight: bool,
        limits: SearchApiConfig,
        *,
        gzip_ok: bool = False,
        scope: Scope = FOUNDATION,
    ) -> Body:
        body: Body = await self._run(("search", (args, highlight, limits, gzip_ok, scope)))
        return body

    async def histogram(
        self, query: str, start_ns: int, end_ns: int, step_ns: int, *, scope: Scope = FOUNDATION
    ) -> list[Bucket]:
        job = ("histogram", (query, start_ns, end_ns, step_ns, scope))
        rows: list[tuple[int, int]] = await self._run(job)
        return [Bucket(start, count) for start, count in rows]

    async def context_body(
        self,
        record_id: str,
        before: int,
        after: int,
        limits: SearchApiConfig,
        *,
        gzip_ok: bool = False,
        scope: Scope = FOUNDATION,
    ) -> Body:
        body: Body = await self._run(("context", (record_id, before, after, limits, gzip_ok, scope)))
        return body
