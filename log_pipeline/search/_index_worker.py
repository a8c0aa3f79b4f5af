"""The main function of the log index process, started by
:class:`log_pipeline.search.index_process.IndexProcessStore` as ``python -m log_pipeline.search._index_worker
FD ARGS_JSON`` (FD: its end of a socket pair, ARGS_JSON: :data:`StoreArgs`): it owns the
embedded store's writer (tantivy documents, indexing, commits, retention) so that this CPU runs beside the
server's, on another core.

Protocol over one duplex :class:`~multiprocessing.connection.Connection`: the process sends
``("ready", pid)`` once the store is open (or ``("error", SearchError)`` and exits), then answers each request
with ``("ok", result)`` or ``("error", SearchError)``:

* ``("write", batch)``: the rows of :func:`encode` (the records as :func:`decode` gives them back) are written
  (durable and searchable before the answer; ``result`` is how many);
* ``("retention", None)``: retention is applied; ``result`` is ``[(path, reason), ...]`` of the dropped
  partitions.

``None`` or end of file (the server closed its end, or died) closes the store and ends the process, so it
never outlives its server for longer than the write in progress.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import signal
import sys
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from log_pipeline.model import LogRecord
from log_pipeline.search._tantivy_docs import Row
from log_pipeline.search.base import SearchError
from log_pipeline.search.tantivy_store import TantivyStore

__all__ = ["PROCESS_NAME", "Row", "StoreArgs", "decode", "encode", "main", "serve"]

# (root, partition_s, retention_s, max_bytes, writer_heap_bytes)
StoreArgs = tuple[str, int, int | None, int | None, int]
_DROP_REASONS = ("age", "size")
_DROPPED = "paramedic_log_store_partitions_dropped_total"
_GC_ALLOCATIONS = 100_000
_PR_SET_NAME = 15
PROCESS_NAME = b"paramedic-index"  # /proc/PID/comm, as ps and top show it


def _name_process() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_NAME, PROCESS_NAME, 0, 0, 0)


def encode(recs: Sequence[LogRecord]) -> bytes | list[Row]:
    """The records as rows in JSON (orjson: ~4x cheaper than pickling them), or as the rows themselves (to
    be pickled) when JSON would not give back the same values: a record holds no ``None``, so a ``null``
    in the JSON means a non-finite float was written as null (or a message says "null": a false alarm that
    costs only the speed), and an integer beyond 64 bits does not encode."""
    rows = [(r.id, r.timestamp_ns, r.message, r.labels, r.fields, r.pattern_id, r.template) for r in recs]
    try:
        data = orjson.dumps(rows)
    except orjson.JSONEncodeError:
        return rows
    return rows if b"null" in data else data


def decode(batch: bytes | Sequence[Row]) -> list[LogRecord]:
    """The records :func:`encode` encoded, equal to the originals."""
    rows = orjson.loads(batch) if isinstance(batch, bytes) else batch
    return [LogRecord(*row) for row in rows]


def _dropped(registry: CollectorRegistry) -> dict[str, float]:
    return {
        reason: registry.get_sample_value(_DROPPED, {"backend": "tantivy", "reason": reason}) or 0.0
        for reason in _DROP_REASONS
    }


def _retention(store: TantivyStore, registry: CollectorRegistry) -> list[tuple[str, str]]:
    """Apply retention; each dropped partition with its reason (read from the store's own counters)."""
    before = _dropped(registry)
    paths = [str(p) for p in store.apply_retention()]
    after = _dropped(registry)
    reasons = [reason for reason in _DROP_REASONS for _ in range(int(after[reason] - before[reason]))]
    # the store drops by age first, then by size, oldest first: the order of ``paths``
    return list(zip(paths, reasons, strict=True))


def answer(store: TantivyStore, registry: CollectorRegistry, request: tuple[str, Any]) -> tuple[str, Any]:
    """The reply to one request (never raises for a failing write)."""
    kind, payload = request
    try:
        if kind == "write":
            rows = orjson.loads(payload) if isinstance(payload, bytes) else payload
            store.write_rows(rows)  # straight from the rows: no records built (decode 3.3 µs per line)
            return "ok", len(rows)
        if kind == "retention":
            return "ok", _retention(store, registry)
        return "error", SearchError(f"unknown index request {kind!r}")
    except SearchError as exc:
        return "error", exc
    except Exception as exc:  # the reply names it; the process stays up for the retry
        return "error", SearchError(f"search store {kind} failed: {type(exc).__name__}: {exc}")


def serve(conn: Connection, args: StoreArgs) -> None:
    """Open the store (the writer) and answer requests from ``conn`` until told to stop."""
    # Ctrl-C and a SIGTERM of the process group reach this process too: the server stops it itself (its
    # last write finishes), and its end of file stops it if the server died
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _name_process()
    root, partition_s, retention_s, max_bytes, heap = args
    registry = CollectorRegistry()
    try:
        store = TantivyStore(
            Path(root),
            partition_s=partition_s,
            retention_s=retention_s,
            max_bytes=max_bytes,
            writer_heap_bytes=heap,
            registry=registry,
        )
    except SearchError as exc:
        conn.send(("error", exc))
        return
    # each batch allocates ~6 objects per record, freed by reference counts (no cycles): a collection every
    # 700 allocations would scan them ~140 times per batch of 16,384 (decode 5.2 -> 3.3 µs per line)
    gc.freeze()
    gc.set_threshold(_GC_ALLOCATIONS, 50, 50)
    conn.send(("ready", os.getpid()))
    try:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                return
            if request is None:
                return
            reply = answer(store, registry, request)
            try:
                conn.send(reply)
            except OSError:  # the server died while this write ran: nobody to answer
                return
    finally:
        store.close()


def main(argv: Sequence[str]) -> None:
    fd, args = int(argv[0]), json.loads(argv[1])
    serve(Connection(fd), (str(args[0]), int(args[1]), args[2], args[3], int(args[4])))


if __name__ == "__main__":
    main(sys.argv[1:])
