"""The parser's header cache yields the record ``SyslogParser.to_record`` yields, on every input it takes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from log_pipeline.model import LogRecord, RawMessage
from log_pipeline.syslog import SyslogParser
from tests.log_pipeline.test_syslog_fastpath import GUID, _inputs

RECEIVED_NS = 1_733_000_000_123_456_789


def _state(r: LogRecord) -> tuple[object, ...]:
    """Everything of a record, the order of its labels and fields included (the store serialises them)."""
    return (r.id, r.timestamp_ns, r.message, list(r.labels.items()), list(r.fields.items()), r.pattern_id)


def _counts(registry: CollectorRegistry) -> dict[str, float]:
    out = {}
    for metric in registry.collect():
        for s in metric.samples:
            out[s.name + repr(sorted(s.labels.items()))] = s.value
    return {k: v for k, v in out.items() if "_created" not in k}


def _corpus() -> list[RawMessage]:
    datas = _inputs()
    cf = (
        f"<14>1 2024-03-10T12:00:{{s:02d}}.{{f}}+00:00 org.space.app {GUID} [APP/PROC/WEB/0] - "
        f'[tags@47450 app_id="{GUID}" instance_id="0" source_type="APP/PROC/WEB"] line {{i}}'
    )
    for i in range(300):  # repeated headers, seconds and fractions of every width
        datas.append(cf.format(s=i % 7, f=str(i)[: 1 + i % 6], i=i).encode())
        datas.append(b"<14>1 2026-12-06T12:00:00.000000Z cell1 app 42 - - run=bench seq=%d" % i)
        datas.append(b"<14>1 - cell1 app 42 - -" + b" x" * (i % 3))
    transports = ("relp", "tcp", "udp")
    return [RawMessage(d, RECEIVED_NS, transports[i % 3], "127.0.0.1:1") for i, d in enumerate(datas)]


def test_cached_records_equal_to_record_and_count_the_same() -> None:
    corpus = _corpus() * 2  # the second pass hits the cache filled by the first
    plain_reg, cached_reg = CollectorRegistry(), CollectorRegistry()
    plain, cached = SyslogParser(registry=plain_reg), SyslogParser(registry=cached_reg)
    taken = 0
    for i, raw in enumerate(corpus):
        rid = f"{i:016x}"
        want = plain.to_record(raw, rid)
        got = cached.cached_record(raw, rid)
        if got is None:
            got = cached.to_record(raw, rid)
        else:
            taken += 1
        assert _state(got) == _state(want), raw.data
    cached.flush_counts()
    assert taken > len(corpus) // 3
    assert _counts(cached_reg) == _counts(plain_reg)


def test_records_do_not_share_their_dicts() -> None:
    parser = SyslogParser(registry=None)
    raw = RawMessage(b"<14>1 2026-12-06T12:00:00Z h a p m - one", RECEIVED_NS, "relp", "127.0.0.1:1")
    first, second = parser.cached_record(raw, "1"), parser.cached_record(raw, "2")
    assert first is not None and second is not None
    first.labels["org"] = "o"
    first.fields["status"] = 200
    assert "org" not in second.labels and "status" not in second.fields


def test_over_the_size_limit_goes_the_full_way() -> None:
    parser = SyslogParser(max_message_bytes=40, registry=None)
    raw = RawMessage(b"<14>1 2026-12-06T12:00:00Z h a p m - " + b"x" * 40, RECEIVED_NS, "relp", "1:1")
    assert parser.cached_record(raw, "1") is None
    assert parser.to_record(raw, "1").fields["truncated"] == 1


def test_bounded() -> None:
    parser = SyslogParser(registry=None)
    for i in range(10_000):
        raw = RawMessage(b"<14>1 2026-12-06T12:00:00Z h%d a p m - x" % i, RECEIVED_NS, "relp", "1:1")
        record = parser.cached_record(raw, "1")
        assert record is not None and record.labels["host"] == f"h{i}"
    assert len(parser._headers._headers) <= 4096


def test_a_huge_header_is_parsed_but_not_kept() -> None:
    parser = SyslogParser(registry=None)
    value = "v" * 10_000
    raw = RawMessage(f'<14>1 - h a p m [x y="{value}"] msg'.encode(), RECEIVED_NS, "relp", "1:1")
    record = parser.cached_record(raw, "1")
    assert record is not None and record.fields["sd.x.y"] == value and record.message == "msg"
    assert parser._headers._headers == {}
