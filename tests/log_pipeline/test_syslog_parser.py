"""RFC 3164 heuristics, auto-detection, limits, metrics and to_record."""

from __future__ import annotations

import contextlib
import random

import pytest
from prometheus_client import CollectorRegistry

from log_pipeline.base import LogPipelineError
from log_pipeline.model import RawMessage
from log_pipeline.syslog import (
    ParseError,
    SyslogParser,
    is_rfc5424,
    parse_rfc3164,
    parse_syslog,
    to_record,
)
from log_pipeline.syslog._time import format_rfc3339nano, to_unix_ns

RECEIVED = to_unix_ns(2024, 3, 10, 12, 0, 0, 0, 0)


def _raw(data: bytes) -> RawMessage:
    return RawMessage(data=data, received_ns=RECEIVED, transport="tcp", peer="127.0.0.1:1")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"no pri at all", {"priority": 13, "message": "no pri at all"}),
        (b"<13>sshd[12]: hi", {"priority": 13, "appname": "sshd", "procid": "12", "message": "hi"}),
        (b"<14>AUG  7 06:30:00 host app: m", {"hostname": "host", "appname": "app", "message": "m"}),
        (b"<14>Jan  2 10:00:00 app[7]: m", {"appname": "app", "procid": "7", "message": "m"}),
        (b"<14>Jan 12 06:30:00 2023 host app: m", {"timestamp": "2023-01-12T06:30:00Z", "hostname": "host"}),
        (
            b"<14>2024-05-01T10:00:00.123+02:00 host app[3]: x",
            {"timestamp": "2024-05-01T10:00:00.123+02:00", "hostname": "host", "procid": "3"},
        ),
        (b"<14>Feb 30 06:30:00 host app: m", {"message": "Feb 30 06:30:00 host app: m"}),
    ],
)
def test_rfc3164_heuristics(line: bytes, expected: dict[str, object]) -> None:
    got = parse_rfc3164(line).to_dict()
    assert {k: got.get(k) for k in expected} == expected


def test_rfc3164_bad_pri() -> None:
    with pytest.raises(ParseError, match=r"priority value in the range 1-191 or equal to 0 \[col 3\]"):
        parse_rfc3164(b"<999>x")
    msg = parse_rfc3164(b"<999>x", best_effort=True)
    assert (msg.priority, msg.message, msg.error is not None) == (13, "<999>x", True)


@pytest.mark.parametrize(
    ("data", "is5424"),
    [(b"<14>1 - - - - - -", True), (b"<14>Jan  1 00:00:00 h a: m", False), (b"x", False), (b"<1>22", False)],
)
def test_detect(data: bytes, is5424: bool) -> None:
    assert is_rfc5424(data) is is5424


def test_errors_are_pipeline_errors() -> None:
    assert issubclass(ParseError, LogPipelineError)


def test_oversized_is_truncated_and_counted() -> None:
    registry = CollectorRegistry()
    parser = SyslogParser(max_message_bytes=100, registry=registry)
    data = b"<14>1 - h a - - - " + b"x" * 500
    msg = parser.parse(data)
    assert msg.truncated and msg.message == "x" * (100 - 18)
    assert registry.get_sample_value("paramedic_syslog_truncated_total") == 1
    assert parse_syslog(data).truncated is False


def test_fuzz_never_raises_other_than_parse_error() -> None:
    rng = random.Random(4)
    seeds = [b'<14>1 2024-01-01T00:00:00Z h a 1 m [x@1 a="b\\]"] msg', b"<13>Jan  1 00:00:00 h t[1]: m"]
    parser = SyslogParser(registry=None)
    for _ in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cut = bytes(data[: rng.randint(0, len(data))])
        with contextlib.suppress(ParseError):
            parse_syslog(cut)
        record = parser.to_record(_raw(cut), "id")
        assert record.timestamp_ns != 0


def test_error_metrics_by_reason() -> None:
    registry = CollectorRegistry()
    parser = SyslogParser(registry=registry)
    record = parser.to_record(_raw(b"<14>1 - h a - - X"), "r1")
    assert record.fields["parse_error"] == (
        "expecting a structured data section containing one or more elements "
        '(`[id( key="value")*]+`) or a nil value [col 16]'
    )
    assert record.labels["host"] == "h"  # best-effort partial kept
    assert (
        registry.get_sample_value("paramedic_syslog_parse_errors_total", {"reason": "structured_data"}) == 1
    )
    bad = parser.to_record(_raw(b"<999>\xff"), "r2")
    assert bad.message == "<999>\ufffd" and bad.timestamp_ns == RECEIVED


def test_to_record_fields_and_labels() -> None:
    data = b'<11>1 2024-03-10T11:59:00.5Z web1 api 42 REQ [origin@123 ip="10.0.0.1"] boom'
    rec = to_record(parse_syslog(data), _raw(data), "abc")
    assert rec.id == "abc" and rec.message == "boom"
    assert rec.timestamp_ns == to_unix_ns(2024, 3, 10, 11, 59, 0, 500_000_000, 0)
    assert rec.labels == {"transport": "tcp", "level": "error", "host": "web1", "app": "api"}
    assert rec.fields == {
        "priority": 11, "facility": 1, "severity": 3, "hostname": "web1", "appname": "api",
        "procid": "42", "msgid": "REQ", "sd.origin@123.ip": "10.0.0.1",
    }  # fmt: skip


def test_to_record_receive_time_and_year() -> None:
    nil = b"<14>1 - - - - - - m"
    assert to_record(parse_syslog(nil), _raw(nil), "x").timestamp_ns == RECEIVED
    for line, expected in [
        (b"<14>Mar  9 08:00:00 h a: m", "2024-03-09T08:00:00Z"),
        (b"<14>Dec 31 23:00:00 h a: m", "2023-12-31T23:00:00Z"),
        (b"<14>Feb 29 01:00:00 h a: m", "2024-02-29T01:00:00Z"),
        (b"<14>Mar 11 01:00:00 h a: m", "2024-03-11T01:00:00Z"),
    ]:
        rec = to_record(parse_syslog(line), _raw(line), "x")
        assert format_rfc3339nano(rec.timestamp_ns) == expected, line
