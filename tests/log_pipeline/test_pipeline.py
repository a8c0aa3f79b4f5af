"""The pipeline's stage composition (in-process): ids from seqs, failed records kept, sink failures retried,
duplicates counted; the search store factory and its config."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from log_pipeline.config import LogsConfig
from log_pipeline.model import LogRecord, RawMessage
from log_pipeline.patterns import PatternStats, TemplateMiner
from log_pipeline.pipeline import (
    DuplicateCounter,
    PipelineMetrics,
    Stage,
    build_pipeline,
    record_id,
    standard_stages,
)
from log_pipeline.search import TailHub
from log_pipeline.search.config import ElasticsearchSearchConfig, EmbeddedSearchConfig
from log_pipeline.search.factory import open_search_store
from log_pipeline.syslog import SyslogParser

Process = Callable[[Sequence[tuple[int, RawMessage]]], None]


class _Sink:
    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.records: dict[str, LogRecord] = {}

    def write(self, records: Sequence[LogRecord]) -> None:
        if self.fail:
            self.fail -= 1
            raise OSError("disk full")
        self.records.update((r.id, r) for r in records)

    def close(self) -> None:
        return


def _raw(text: bytes, peer: str = "127.0.0.1:5000") -> RawMessage:
    return RawMessage(text, 1_700_000_000 * 10**9, "relp", peer)


def _pipeline(sink: _Sink, extra: list[Stage] | None = None) -> tuple[Process, PipelineMetrics, PatternStats]:
    reg = CollectorRegistry()
    metrics = PipelineMetrics(reg)
    stats = PatternStats()
    stages = standard_stages(TemplateMiner(), stats, sink, TailHub(registry=reg))
    process = build_pipeline(
        SyslogParser(registry=reg),
        (extra or []) + stages,
        metrics=metrics,
        duplicates=DuplicateCounter(100),
    )
    return process, metrics, stats


def test_a_replicas_id_prefix_keeps_two_spools_same_seqs_apart() -> None:
    sink = _Sink()  # one store shared by two replicas whose spools both start at seq 1
    for prefix in ("r1-", "r2-"):
        reg = CollectorRegistry()
        process = build_pipeline(
            SyslogParser(registry=reg),
            standard_stages(TemplateMiner(), PatternStats(), sink, TailHub(registry=reg)),
            metrics=PipelineMetrics(reg),
            duplicates=DuplicateCounter(100),
            id_prefix=prefix,
        )
        raw = _raw(b"<14>1 2024-05-01T12:00:00Z h web 0 APP - same line")
        process([(1, raw), (2, raw)])
    assert sorted(sink.records) == ["r1-0000000000000001", "r1-0000000000000002", "r2-0000000000000001",
                                    "r2-0000000000000002"]  # fmt: skip
    assert sink.records["r2-0000000000000002"].fields["duplicate_of"] == "r2-0000000000000001"


def _value(metrics: PipelineMetrics, name: str) -> float:
    return float(getattr(metrics, name)._value.get())


def test_records_get_seq_ids_patterns_and_reach_the_sink() -> None:
    sink = _Sink()
    process, metrics, stats = _pipeline(sink)
    batch = [(i, _raw(b"<14>1 2024-05-01T12:00:00Z h web 0 APP - user %d logged in" % i)) for i in (1, 2, 3)]
    process(batch)
    assert (
        sorted(sink.records)
        == [record_id(1), record_id(2), record_id(3)]
        == ["0000000000000001", "0000000000000002", "0000000000000003"]
    )
    r = sink.records[record_id(2)]
    assert r.template == "user <*> logged in" and r.pattern_id
    assert r.labels["app"] == "web"
    assert [p.count for p in stats.list_patterns("web")] == [3]
    assert _value(metrics, "received") == 3 and _value(metrics, "written") == 3


def test_a_failing_record_stage_keeps_the_record_with_an_error() -> None:
    def boom(r: LogRecord) -> None:
        if "bad" in r.message:
            raise ValueError("nope")

    sink = _Sink()
    process, _, _ = _pipeline(sink, [Stage("check", "record", boom)])
    process([(1, _raw(b"<14>1 - h a - - - good")), (2, _raw(b"<14>1 - h a - - - bad"))])
    assert "pipeline_error" not in sink.records[record_id(1)].fields
    assert sink.records[record_id(2)].fields["pipeline_error"] == "check: ValueError: nope"


def test_unparseable_bytes_are_kept() -> None:
    sink = _Sink()
    process, _, _ = _pipeline(sink)
    process([(9, _raw(b"\xff\xfe garbage"))])
    assert "garbage" in sink.records[record_id(9)].message


def test_a_sink_failure_raises_so_the_batch_is_retried() -> None:
    sink = _Sink(fail=1)
    process, metrics, _ = _pipeline(sink)
    batch = [(1, _raw(b"<14>1 - h a - - - x"))]
    with pytest.raises(OSError):
        process(batch)
    process(batch)
    assert list(sink.records) == [record_id(1)]
    assert _value(metrics, "duplicates") == 0  # re-reading the same seq is not a duplicate


def test_resent_messages_from_the_same_host_are_counted() -> None:
    sink = _Sink()
    process, metrics, _ = _pipeline(sink)
    msg = b"<14>1 2024-05-01T12:00:00.123Z h a - - - seq=1"
    process(
        [(1, _raw(msg, "127.0.0.1:5000")), (2, _raw(msg, "127.0.0.1:6000")), (3, _raw(msg, "10.0.0.2:1"))]
    )
    assert _value(metrics, "duplicates") == 1
    assert sink.records[record_id(2)].fields["duplicate_of"] == record_id(1)
    assert "duplicate_of" not in sink.records[record_id(3)].fields


def test_duplicate_window_is_bounded() -> None:
    dups = DuplicateCounter(2)
    assert dups.check(1, _raw(b"a")) is None
    assert dups.check(2, _raw(b"b")) is None
    assert dups.check(3, _raw(b"c")) is None
    assert dups.check(4, _raw(b"a")) is None  # forgotten
    assert dups.check(5, _raw(b"c")) == 3


def test_factory_opens_the_embedded_store(tmp_path: Path) -> None:
    store = open_search_store(EmbeddedSearchConfig(path="s"), tmp_path, CollectorRegistry())
    try:
        store.write([LogRecord("1", 1_700_000_000 * 10**9, "hello world")])
        assert store.search("hello", None, None, 10).total == 1
    finally:
        store.close()
    assert (tmp_path / "s").is_dir()


def test_search_secrets_are_redacted() -> None:
    cfg = LogsConfig.model_validate(
        {"search": {"type": "elasticsearch", "hosts": ["http://es:9200"], "api_key": "s3cr3t"}}
    )
    assert isinstance(cfg.search, ElasticsearchSearchConfig)
    assert "s3cr3t" not in repr(cfg) and "s3cr3t" not in cfg.model_dump_json()
