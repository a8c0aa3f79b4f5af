"""The embedded search store with its writer in a child process: indexing on the second core.

Building tantivy documents and indexing them costs about half of the log pipeline's CPU per line; in the
server's process it shares one core's worth of GIL with the receivers, parsing and mining.
:class:`IndexProcessStore` is the embedded store with :meth:`~IndexProcessStore.write` and
:meth:`~IndexProcessStore.apply_retention` sent to one child process
(:func:`log_pipeline.search._index_worker.serve`, run as ``python -m``), which owns the
:class:`~log_pipeline.search.tantivy_store.TantivyStore` writer. Reads in the server's process (searches when
``search_processes`` is 0) go through the :class:`~log_pipeline.search.tantivy_store.TantivyReader` this
class extends, which sees every commit the child made.

Guarantees, unchanged from the in-process store:

* :meth:`write` returns only after the child committed the batch (durable and searchable), so the spool
  consumer commits a seq only after its batch is indexed; records cross as rows of plain values in JSON
  (pickled when JSON would change a value), so the documents are the ones the in-process store writes
  (ids, timestamps, labels, fields, partitions);
* a child that dies (crash, OOM kill, ``kill -9``) makes the write in progress raise
  :class:`~log_pipeline.search.base.SearchError`: the consumer retries the batch from the last committed seq
  (the store upserts by id). The child is restarted at once (logged as an error with its exit code;
  ``paramedic_log_index_process_restarts_total``);
* the child never outlives the server: it reads end of file on its pipe when the server closes it or dies
  (even by ``kill -9``) and exits after the write in progress; :meth:`close` stops it (killed after
  ``stop_timeout_s``);
* the store's metrics stay in the server's registry: records written and write errors are counted on each
  answer, dropped partitions on each retention answer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter

import log_pipeline
from log_pipeline.model import LogRecord
from log_pipeline.search._index_worker import StoreArgs, encode
from log_pipeline.search.base import SearchError
from log_pipeline.search.tantivy_store import TantivyReader

__all__ = ["IndexProcessStore"]

_SOURCE = str(Path(log_pipeline.__file__).resolve().parents[1])  # the child imports the server's own code
log = logging.getLogger("log_pipeline.index_process")


class IndexProcessStore(TantivyReader):
    """The embedded store at ``path`` (arguments as :class:`TantivyStore`'s), written by a child process.
    ``module`` is run as the child (``python -m``); it has ``start_timeout_s`` to open the store and
    ``stop_timeout_s`` to finish its write and stop before it is killed."""

    module = "log_pipeline.search._index_worker"
    start_timeout_s = 60.0
    stop_timeout_s = 30.0

    def __init__(
        self,
        path: Path,
        *,
        partition_s: int = 86_400,
        retention_s: int | None = None,
        max_bytes: int | None = None,
        writer_heap_bytes: int = 64_000_000,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._args: StoreArgs = (str(path), partition_s, retention_s, max_bytes, writer_heap_bytes)
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._call_lock = threading.Lock()  # one request at a time, answers in order
        self._closed_for_good = False
        self._restarts = Counter(
            "paramedic_log_index_process_restarts",
            "Log index child processes restarted after they died (the batch in progress is retried).",
            registry=registry,
        )
        self._starting = False
        self._launch()  # opens (creates) the store and applies retention while the server starts
        try:
            super().__init__(path, partition_s=partition_s, registry=registry)
        except BaseException:
            self._stop_child()
            raise

    def wait_ready(self) -> None:
        """Wait until the child has the store open: raises :class:`SearchError` if it cannot. The first
        write waits for it too; :class:`~paramedic.logs.LogService` calls this while its search workers
        start, so the two start-ups overlap."""
        with self._call_lock:
            self._handshake()

    @property
    def child_pid(self) -> int | None:
        """The process id of the child (None while none is running)."""
        return None if self._proc is None else self._proc.pid

    # ---- the child ---------------------------------------------------------------------------------

    def _launch(self) -> None:
        """Start the child; it reports ready in :meth:`_handshake` (the server starts meanwhile). A plain
        ``python -m`` of the child's module (not ``multiprocessing``, whose ``spawn`` imports the server's
        ``__main__``: ~4.7 s of CPU for ``paramedic.cli`` against 0.2 s for the child's own imports)."""
        ours, theirs = socket.socketpair()
        with ours, theirs:
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, (_SOURCE, os.environ.get("PYTHONPATH")))),
            }
            try:
                # -P: the server's working directory is not put on the child's sys.path (a ``json.py`` or
                # ``log_pipeline/`` there would be imported instead of ours)
                proc = subprocess.Popen(
                    [sys.executable, "-P", "-m", self.module, str(theirs.fileno()), json.dumps(self._args)],
                    pass_fds=(theirs.fileno(),),
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
            except OSError as exc:  # EMFILE, ENOMEM, ...: a search error like any other failed write
                raise SearchError(f"cannot start the log index process: {exc}") from exc
            conn = Connection(
                ours.detach()
            )  # the child holds the only other end: its end of file is our death
        self._proc, self._conn, self._starting = proc, conn, True

    def _handshake(self) -> None:
        """Wait until the launched child has the store open (raises SearchError if it cannot)."""
        parent = self._conn
        if not self._starting or parent is None:
            return
        self._starting = False
        try:
            if not parent.poll(self.start_timeout_s):
                raise SearchError(f"the log index process did not start within {self.start_timeout_s:g} s")
            status, detail = parent.recv()
        except (EOFError, OSError) as exc:
            self._kill_child()
            raise SearchError(f"the log index process died while starting: {exc}") from exc
        except SearchError:
            self._kill_child()
            raise
        if status != "ready":
            self._kill_child()
            raise detail if isinstance(detail, SearchError) else SearchError(str(detail))

    def _start_child(self) -> None:
        self._launch()
        self._handshake()

    def _kill_child(self) -> int | None:
        """Kill the child (if still running) and reap it; its exit code."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()
        if proc is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(self.stop_timeout_s)
        return proc.returncode

    def _stop_child(self) -> None:
        """Ask the child to stop (it closes its writers) and wait for it; kill it after the timeout."""
        proc, conn = self._proc, self._conn
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(None)
        if proc is not None:
            try:
                proc.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.error("the log index process did not stop within %g s: killed", self.stop_timeout_s)
        self._kill_child()

    def _died(self, kind: str, exc: BaseException) -> SearchError:
        pid = self.child_pid
        code = self._kill_child()
        if self._closed_for_good:  # killed by close(): nothing to restart
            return SearchError(f"the log index process was stopped during a {kind}: {exc}")
        self._restarts.inc()
        log.error(
            "the log index process (pid %s) died during a %s (exit code %s): restarting it; the batch is "
            "retried from the last committed spool seq",
            pid,
            kind,
            code,
        )
        try:
            self._start_child()
        except SearchError as start_exc:
            log.error(
                "the log index process could not be restarted (retried on the next write): %s", start_exc
            )
        return SearchError(f"the log index process died during a {kind}: {exc}")

    def _call(self, kind: str, payload: Any) -> Any:
        with self._call_lock:
            if self._conn is None:  # closed, or a restart failed: try again
                if self._closed_for_good:
                    raise SearchError(f"the search store at {self._root} is closed")
                self._start_child()
            self._handshake()
            conn = self._conn
            if conn is None:
                raise SearchError("the log index process is not running")
            try:
                conn.send((kind, payload))
                status, result = conn.recv()
            except (EOFError, OSError) as exc:
                raise self._died(kind, exc) from exc
        if status != "ok":
            raise result if isinstance(result, SearchError) else SearchError(str(result))
        return result

    # ---- the store ---------------------------------------------------------------------------------

    def write(self, records: Sequence[LogRecord]) -> None:
        try:
            written = self._call("write", encode(records))
        except SearchError:
            self._metrics.error("write")
            raise
        self._metrics.written.inc(written)

    def apply_retention(self) -> list[Path]:
        dropped: list[tuple[str, str]] = self._call("retention", None)
        for _, reason in dropped:
            self._metrics.dropped(reason)
        return [Path(p) for p, _ in dropped]

    def close(self) -> None:
        # a write stuck in a hung child must not hold shutdown forever: kill the child, which ends that write
        self._closed_for_good = True
        if not self._call_lock.acquire(timeout=self.stop_timeout_s):
            proc = self._proc
            log.error(
                "the log index process (pid %s) did not answer within %.0f s at stop: killing it",
                None if proc is None else proc.pid,
                self.stop_timeout_s,
            )
            if proc is not None:
                with contextlib.suppress(OSError):
                    proc.kill()
            self._call_lock.acquire()
        try:
            self._stop_child()
        finally:
            self._call_lock.release()
        super().close()
