"""The main function of a search worker process, started by
:class:`log_pipeline.search.workers.SearchWorkerPool` with the ``spawn`` start method (it shares nothing
with the server but the index files).

Protocol over one duplex :class:`~multiprocessing.connection.Connection`: the worker sends ``("ready", pid)``
once the store is open, then answers each job ``(kind, args)`` with ``("ok", result)`` or ``("error", exc)``
(a :class:`~log_pipeline.search.base.SearchError` or :class:`~log_pipeline.search.query.QuerySyntaxError`;
anything else becomes a ``SearchError``). ``None`` or end of file (the server closed its end or died) stops
it, so a worker never outlives its server for long.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from log_pipeline.search.base import SearchError
from log_pipeline.search.query import QuerySyntaxError
from log_pipeline.search.render import context_body, encode, search_body
from log_pipeline.search.tantivy_store import TantivyReader, TantivyStore
from metrics_store.sched_slice import drop_process_slice_requests

__all__ = ["JOBS", "Job", "serve"]

Job = tuple[str, tuple[Any, ...]]
# the last argument of every job is the reader's tenant scope (platforms.tenancy.Scope)
JOBS: dict[str, Callable[[TantivyStore, tuple[Any, ...]], Any]] = {
    "search": lambda store, a: encode(search_body(store, a[0], a[1], a[2], a[4]), a[3]),
    "histogram": lambda store, a: [(b.start_ns, b.count) for b in store.histogram(*a[:4], scope=a[4])],
    "context": lambda store, a: encode(context_body(store, a[0], a[1], a[2], a[3], a[5]), a[4]),
}


def _lower_priority(nice: int) -> None:
    with contextlib.suppress(OSError):
        if os.getpriority(os.PRIO_PROCESS, 0) < nice:
            os.setpriority(os.PRIO_PROCESS, 0, nice)


def answer(store: TantivyStore, job: Job) -> tuple[str, Any]:
    """The reply to one job (never raises for a failing query)."""
    kind, args = job
    try:
        return "ok", JOBS[kind](store, args)
    except (SearchError, QuerySyntaxError) as exc:
        return "error", exc
    except Exception as exc:  # the reply names it; the worker stays up for the next job
        return "error", SearchError(f"search failed: {type(exc).__name__}: {exc}")


def serve(conn: Connection, root: str, partition_s: int, nice: int) -> None:
    """Open the store at ``root`` read-only and answer jobs from ``conn`` until told to stop."""
    # Ctrl-C reaches the whole process group: the server stops its workers itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _lower_priority(nice)
    drop_process_slice_requests()  # a short slice inherited from the server's event loop (sched_slice)
    try:
        store = TantivyReader(Path(root), partition_s=partition_s, registry=CollectorRegistry())
    except SearchError as exc:
        conn.send(("error", exc))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        conn.send(answer(store, job))
