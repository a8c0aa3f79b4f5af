"""SpoolConsumer with a two-phase process: the next batch is prepared while the previous one is delivered;
deliveries stay in order, a seq is committed only after its delivery, and a failed delivery is retried with
everything after it (nothing lost, nothing committed early)."""

from __future__ import annotations

import threading
from pathlib import Path

from prometheus_client import CollectorRegistry

from log_pipeline.model import LogRecord, RawMessage
from log_pipeline.pipeline import Pipeline, PipelineMetrics, Stage, build_pipeline
from log_pipeline.receivers import SpoolConsumer
from log_pipeline.receivers.consumer import Batch, Staged
from log_pipeline.spool import FileSpool
from log_pipeline.syslog import SyslogParser
from tests.support.servers import wait_until


def msg(i: int) -> RawMessage:
    return RawMessage(
        b"<13>1 - host app - - - msg %d" % i, 1_700_000_000_000_000_000 + i, "relp", "127.0.0.1:1"
    )


class Recorder:
    """A two-phase process that records what it prepares and delivers; ``gate`` holds the first delivery
    until the test opens it; ``fail_once`` makes the delivery of the batch ending at that seq fail once."""

    def __init__(self, spool: FileSpool, fail_once: int | None = None) -> None:
        self.spool = spool
        self.prepared: list[list[int]] = []
        self.delivered: list[list[int]] = []
        self.committed_at_delivery: list[int] = []
        self.gate = threading.Event()
        self.fail_once = fail_once

    def prepare(self, batch: Batch) -> list[int]:
        seqs = [q for q, _ in batch]
        self.prepared.append(seqs)
        return seqs

    def deliver(self, prepared: list[int]) -> None:
        self.gate.wait(10)
        self.committed_at_delivery.append(self.spool.committed_seq)
        if prepared[-1] == self.fail_once:
            self.fail_once = None
            raise OSError("sink down")
        self.delivered.append(prepared)

    def __call__(self, batch: Batch) -> None:  # what a sequential consumer would call
        self.deliver(self.prepare(batch))


def test_next_batch_is_prepared_while_the_previous_is_delivered(tmp_path: Path) -> None:
    s = FileSpool(tmp_path)
    s.append([msg(i) for i in range(30)])
    rec = Recorder(s)
    assert isinstance(rec, Staged)
    c = SpoolConsumer(s, rec, batch_messages=10, idle_wait_s=0.05)
    c.start()
    try:
        # the first delivery is held: the second batch is prepared meanwhile, nothing is committed yet
        wait_until(lambda: len(rec.prepared) == 2, 10, "the second batch to be prepared")
        assert rec.delivered == [] and s.committed_seq == 0
        rec.gate.set()
        wait_until(lambda: s.committed_seq == 30, 10, "every batch to be committed")
    finally:
        c.stop()
        s.close()
    assert rec.delivered == [list(range(1, 11)), list(range(11, 21)), list(range(21, 31))]
    # each delivery saw every earlier batch committed and its own not yet
    assert rec.committed_at_delivery == [0, 10, 20]


def test_failed_delivery_retries_it_and_the_batch_prepared_after_it(tmp_path: Path) -> None:
    s = FileSpool(tmp_path)
    s.append([msg(i) for i in range(30)])
    rec = Recorder(s, fail_once=20)
    rec.gate.set()
    c = SpoolConsumer(s, rec, batch_messages=10, idle_wait_s=0.05, retry_backoff_s=0.05)
    c.start()
    try:
        wait_until(lambda: s.committed_seq == 30, 10, "every batch to be committed after the retry")
    finally:
        c.stop()
        s.close()
    assert rec.delivered == [list(range(1, 11)), list(range(11, 21)), list(range(21, 31))]
    # 11..20 failed once: it and the batch prepared after it (21..30) were read again
    assert [b[0] for b in rec.prepared] == [1, 11, 21, 11, 21]
    assert rec.committed_at_delivery == [0, 10, 10, 20]


def test_pipeline_in_two_phases_stores_what_one_call_stores(tmp_path: Path) -> None:
    stored: dict[str, list[LogRecord]] = {"call": [], "phases": []}
    runs: dict[str, list[str]] = {"call": [], "phases": []}

    def pipeline(name: str) -> tuple[Pipeline, list[str]]:
        order = runs[name]

        def enrich(r: LogRecord) -> None:
            order.append("enrich")
            r.labels["seen"] = "1"

        def sink(rs: list[LogRecord]) -> None:
            order.append("store")
            stored[name].extend(rs)

        stages = [
            Stage("enrich", "record", enrich),
            Stage("store", "sink", sink),
            Stage("tail", "side", lambda rs: order.append("tail")),
        ]
        metrics = PipelineMetrics(CollectorRegistry())
        return build_pipeline(SyslogParser(registry=None), stages, metrics=metrics), order

    batch = [(i + 1, msg(i)) for i in range(3)]
    one, _ = pipeline("call")
    one(batch)
    two, order = pipeline("phases")
    prepared = two.prepare(batch)
    assert order == ["enrich"] * 3  # the record stages ran, the sink has not
    two.deliver(prepared)
    assert order == ["enrich"] * 3 + ["store", "tail"]
    assert runs["call"] == runs["phases"]
    assert stored["call"] == stored["phases"] and len(stored["call"]) == 3
