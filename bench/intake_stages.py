"""CPU per line of each stage of the log consumer path, in-process (issue 18's intake profile).

    .venv/bin/python bench/intake_stages.py [--lines 40000] [--batch 16384]

The bench's RFC 5424 lines (as ``bench/logs.py`` sends them) go through the pipeline's pieces one stage at a
time, each timed over all lines: parse (with the duplicate count), enrich, mine, pattern stats, building the
tantivy documents (field by field, and as the JSON text the store now builds), and ``TantivyStore.write`` in
batches (which builds the documents again, adds and commits).
Thread CPU is the calling thread's; process CPU adds tantivy's indexing and merge threads. Then the same
writes through ``IndexProcessStore`` (the writer in a child process): the server's side (the rows pickled and
sent, the answer awaited) and the child's CPU (read from ``/proc`` before it stops).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from log_pipeline.enrich import enrich
from log_pipeline.model import RawMessage
from log_pipeline.patterns import PatternStats, TenantMiners
from log_pipeline.patterns._metrics import PatternMetrics
from log_pipeline.pipeline import DuplicateCounter, PipelineMetrics, _parse
from log_pipeline.search._tantivy_docs import DocBuilder, document
from log_pipeline.search.index_process import IndexProcessStore
from log_pipeline.search.tantivy_store import TantivyStore
from log_pipeline.syslog import SyslogParser

T = TypeVar("T")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def timed(name: str, n: int, fn: Callable[[], T]) -> T:
    thread, process = time.thread_time(), time.process_time()
    out = fn()
    thread, process = time.thread_time() - thread, time.process_time() - process
    print(f"{name:12s} thread {thread / n * 1e6:6.1f} µs/line   process {process / n * 1e6:6.1f} µs/line")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=40_000)
    ap.add_argument("--batch", type=int, default=16_384)
    a = ap.parse_args()
    n = a.lines
    head = b"<14>1 2026-12-06T12:00:00.000000Z cell1 app 42 - - run=bench seq="
    now = time.time_ns()
    batch = [(i + 1, RawMessage(b"%s%d" % (head, i), now, "relp", "127.0.0.1:1")) for i in range(n)]
    reg = CollectorRegistry()
    pm = PatternMetrics(reg)
    miner = TenantMiners(on_new=pm.pattern_created, on_evict=pm.pattern_evicted)
    stats = PatternStats(None, metrics=pm)
    parser = SyslogParser(registry=reg)
    records = timed(
        "parse", n, lambda: _parse(parser, DuplicateCounter(100_000), PipelineMetrics(reg), batch, "")
    )
    timed("enrich", n, lambda: [enrich(r) for r in records])

    def mine() -> None:
        for r in records:
            r.pattern_id, r.template = miner.mine_for("", "", r.message)

    timed("mine", n, mine)

    def observe() -> None:
        for r in records:
            stats.observe(r.labels.get("app", ""), r.pattern_id, r.template, r.message, r.timestamp_ns)

    timed("stats", n, observe)
    timed("document", n, lambda: [document(r) for r in records])
    rows = [(r.id, r.timestamp_ns, r.message, r.labels, r.fields, r.pattern_id, r.template) for r in records]
    docs = DocBuilder()
    timed("doc json", n, lambda: [docs.json(row) for row in rows])
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as d:
        store = TantivyStore(Path(d), registry=reg)

        def write() -> None:
            for i in range(0, n, a.batch):
                store.write(records[i : i + a.batch])

        timed("store.write", n, write)
        store.close()
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as d:
        child = IndexProcessStore(Path(d), registry=CollectorRegistry())
        child.wait_ready()  # its start-up is not counted
        pid = child.child_pid
        assert pid is not None
        child_cpu = proc_cpu_s(pid)

        def write_child() -> None:
            for i in range(0, n, a.batch):
                child.write(records[i : i + a.batch])

        timed("server side", n, write_child)
        per_line = (proc_cpu_s(pid) - child_cpu) / n * 1e6
        print(f"{'index child':12s} process {per_line:6.1f} µs/line (10 ms ticks)")
        child.close()


if __name__ == "__main__":
    main()
