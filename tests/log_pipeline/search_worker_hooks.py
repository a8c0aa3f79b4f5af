"""A search worker main for tests: the real one (:func:`log_pipeline.search._search_worker.serve`), except
that a search for the query :data:`HANG` first writes the worker's pid to ``<root>.hanging`` and then sleeps
for an hour, a stand-in for a pathological query that is deterministic in time. Runs in the worker process
(``spawn`` imports this module there)."""

from __future__ import annotations

import os
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from log_pipeline.search import _search_worker
from log_pipeline.search.tantivy_store import TantivyStore

HANG = "hang_here_forever"


def hang_file(root: Path) -> Path:
    return root.with_name(root.name + ".hanging")


def serve_with_hang(conn: Connection, root: str, partition_s: int, nice: int) -> None:
    real = _search_worker.JOBS["search"]

    def search(store: TantivyStore, args: tuple[Any, ...]) -> Any:
        if args[0][0] == HANG:
            hang_file(Path(root)).write_text(str(os.getpid()))
            time.sleep(3600)
        return real(store, args)

    _search_worker.JOBS["search"] = search
    _search_worker.serve(conn, root, partition_s, nice)


def serve_with_pid(conn: Connection, root: str, partition_s: int, nice: int) -> None:
    """The real worker, except that a search answers with the worker's pid: which worker took a job."""
    _search_worker.JOBS["search"] = lambda _store, _args: os.getpid()
    _search_worker.serve(conn, root, partition_s, nice)
