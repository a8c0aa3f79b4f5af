"""A search worker main for tests: the real one (:func:`log_pipeline.search._search_worker.serve`), except
that a search for the query :data:`HANG` first writes the worker's pid to ``<root>.hanging`` and then sleeps
for an hour, a stand-in for a pathological query that is deterministic in time. Runs in the worker process
(``spawn`` imports this module there)."""

from __future__ import annotations

import os
import pickle
import struct
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


BIG = "send_a_big_answer"  # answered with BIG_BYTES bytes, written in pieces with pauses between them
PARTIAL = "send_half_an_answer"  # half the answer's frame is written, then the worker hangs
BIG_BYTES = 6 * 1024 * 1024
BAD_LENGTH = "send_a_bad_length"  # a negative length, then a well-formed answer
HUGE_LENGTH = "send_a_huge_length"  # a 1 TiB length and no body


def partial_file(root: Path) -> Path:
    return root.with_name(root.name + ".partial")


def _frame(message: Any) -> bytes:
    """``message`` as ``Connection.send`` frames it: a 4-byte big-endian length, then the pickle."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack("!i", len(body)) + body


def serve_with_slow_answers(conn: Connection, root: str, partition_s: int, nice: int) -> None:
    """The real worker, except for the queries :data:`BIG` (a 6 MiB answer written in 64 KiB pieces, 1 ms
    apart, so the server sees it arrive over many reads) and :data:`PARTIAL` (half a frame, the pid written
    to ``<root>.partial``, then an hour's sleep: a worker that dies or hangs mid-answer)."""
    real = _search_worker.answer

    def answer(store: TantivyStore, job: _search_worker.Job) -> Any:
        query = job[1][0][0] if job[0] == "search" else None
        if query not in (BIG, PARTIAL, BAD_LENGTH, HUGE_LENGTH):
            return real(store, job)
        frame = _frame(("ok", bytes(range(256)) * (BIG_BYTES // 256)))
        if query == BAD_LENGTH:  # a length no answer has, then a well-formed answer behind it
            os.write(conn.fileno(), struct.pack("!i", -5) + _frame(("ok", b"behind a bad length")))
            return _ALREADY_SENT
        if query == HUGE_LENGTH:  # 1 TiB announced (the 8-byte form), then nothing
            os.write(conn.fileno(), struct.pack("!i", -1) + struct.pack("!Q", 1 << 40))
            return _ALREADY_SENT
        if query == PARTIAL:
            os.write(conn.fileno(), frame[: len(frame) // 2])
            partial_file(Path(root)).write_text(str(os.getpid()))
            time.sleep(3600)
        for at in range(0, len(frame), 65536):
            os.write(conn.fileno(), frame[at : at + 65536])
            time.sleep(0.001)
        return _ALREADY_SENT

    _search_worker.answer = answer

    class _Conn:  # the worker's connection, except that an answer already written is not sent again
        def recv(self) -> Any:
            return conn.recv()

        def send(self, message: Any) -> None:
            if message is not _ALREADY_SENT:
                conn.send(message)

    _search_worker.serve(_Conn(), root, partition_s, nice)  # type: ignore[arg-type]


_ALREADY_SENT = object()
