"""Fuzzing the syslog parsers (RFC 5424, RFC 3164, auto-detection, the ingest path) with hypothesis.

Property: any bytes, and near-valid messages (generated headers, SD elements with escapes, odd timestamps,
invalid UTF-8, truncations), either parse or raise :class:`ParseError` — never another exception, never a
hang (each example must finish well within a second). The ingest path (``SyslogParser.to_record``) never
raises at all, and a successful parse always turns into a record. Bounded and deterministic.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from log_pipeline.model import RawMessage
from log_pipeline.syslog import (
    ParseError,
    SyslogMessage,
    SyslogParser,
    parse_rfc3164,
    parse_rfc5424,
    parse_syslog,
    to_record,
)

FUZZ = settings(max_examples=400, deadline=None, derandomize=True, database=None)
PER_EXAMPLE_S = 1.0
RECEIVED_NS = 1_717_000_000_000_000_000


def _parse_all_ways(data: bytes) -> list[SyslogMessage]:
    """Every parser entry point on ``data``: results of those that accept it; only ParseError allowed."""
    started = time.thread_time()  # CPU time of this thread: the machine's load does not count
    parsed: list[SyslogMessage] = []
    calls: list[Callable[[], SyslogMessage]] = [
        lambda: parse_rfc5424(data),
        lambda: parse_rfc5424(data, best_effort=True),
        lambda: parse_rfc5424(data, best_effort=True, compliant_msg=True),
        lambda: parse_rfc3164(data),
        lambda: parse_rfc3164(data, best_effort=True),
        lambda: parse_syslog(data),
        lambda: parse_syslog(data, best_effort=True, max_bytes=64),
    ]
    for call in calls:
        with contextlib.suppress(ParseError):
            parsed.append(call())
    for msg in parsed:
        record = to_record(msg, RawMessage(data, RECEIVED_NS, "tcp", "127.0.0.1:1"), "id-1")
        assert record.id == "id-1"
        msg.to_dict()
        msg.timestamp_rfc3339()
    record = SyslogParser(registry=None).to_record(RawMessage(data, RECEIVED_NS, "tcp", "x"), "id-2")
    assert record.id == "id-2"
    assert time.thread_time() - started < PER_EXAMPLE_S, f"parsing {data[:80]!r}... took too long"
    return parsed


# ---- near-valid RFC 5424 -------------------------------------------------------------------------------

_printus = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
_field = st.one_of(st.just("-"), _printus, st.text(max_size=8))
_pri = st.one_of(st.integers(0, 191).map(str), st.sampled_from(["", "192", "999", "0000", "01", "-1", "1a"]))
_version = st.sampled_from(["1", "2", "0", "10", "999", "1000", "", "x"])
_fraction = st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=9).map(lambda d: "." + d))
_offset = st.one_of(
    st.sampled_from(["Z", "z", "+00:00", "-00:00", "+23:59", "-23:59", "+24:00", "+99:99", "", "+0530"]),
    st.tuples(st.sampled_from("+-"), st.integers(0, 30), st.integers(0, 70)).map(
        lambda t: f"{t[0]}{t[1]:02d}:{t[2]:02d}"
    ),
)
_timestamp = st.one_of(
    st.just("-"),
    st.tuples(
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 24),
        st.integers(0, 60),
        st.integers(0, 61),
        _fraction,
        _offset,
    ).map(lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}T{t[3]:02d}:{t[4]:02d}:{t[5]:02d}{t[6]}{t[7]}"),
    st.text(max_size=30),
)
_sd_chars = st.sampled_from(['"', "\\", "]", "\\\\", '\\"', "\\]", "a", "é", " ", "=", "[", "\x00"])
_sd_value = st.lists(_sd_chars, max_size=12).map("".join)
_sd_name = st.one_of(st.sampled_from(["id", "exampleSDID@32473", "origin", "a=b", "x y", ""]), _printus)
_sd_param = st.tuples(_sd_name, _sd_value).map(lambda t: f' {t[0]}="{t[1]}"')
_sd_element = st.tuples(_sd_name, st.lists(_sd_param, max_size=4)).map(lambda t: f"[{t[0]}{''.join(t[1])}]")
_sd = st.one_of(
    st.just("-"), st.lists(_sd_element, min_size=1, max_size=4).map("".join), st.text(max_size=20)
)
_msg_body = st.one_of(
    st.just(b""),
    st.binary(max_size=60),
    st.text(max_size=60).map(lambda s: b" \xef\xbb\xbf" + s.encode()),
    st.text(max_size=60).map(lambda s: b" " + s.encode()),
)


@st.composite
def rfc5424_messages(draw: st.DrawFn) -> bytes:
    header = " ".join(
        [
            f"<{draw(_pri)}>{draw(_version)}",
            draw(_timestamp),
            draw(_field),
            draw(_field),
            draw(_field),
            draw(_field),
            draw(_sd),
        ]
    )
    data = header.encode("utf-8", "surrogatepass") + draw(_msg_body)
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]  # truncation
    return data


_months = st.sampled_from(["Jan", "Feb", "Mar", "Dec", "jan", "Foo", "", "Feb "])


@st.composite
def rfc3164_messages(draw: st.DrawFn) -> bytes:
    stamp = (
        f"{draw(_months)} {draw(st.integers(0, 40)):>2} "
        f"{draw(st.integers(0, 25)):02d}:{draw(st.integers(0, 61)):02d}:{draw(st.integers(0, 61)):02d}"
    )
    if draw(st.booleans()):
        stamp += f" {draw(st.integers(0, 99999))}"
    tag = draw(st.one_of(_printus, st.just("app[123]:"), st.just("app[:"), st.just("app[]")))
    text = f"<{draw(_pri)}>{stamp} {draw(_field)} {tag} {draw(st.text(max_size=40))}"
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@pytest.mark.timeout(60)
@FUZZ
@given(st.binary(max_size=300))
@example(b"")
@example(b"<")
@example(b"<13>")
@example(b"<13>1 ")
@example(b"<999999999999>1 - - - - - -")
@example(b"<13>1 2024-02-30T00:00:00Z h a p m - x")
@example(b"<13>1 9999-12-31T23:59:60.999999999-23:59 h a p m - x")
@example(b"<13>1 0000-01-01T00:00:00+23:59 h a p m - x")
@example(b'<13>1 - - - - - [a b="\\')
@example(b"<13>Feb 29 12:00:00 host app: x")
@example(b"<13>Dec 31 23:59:60 99999 host app: x")
@example(b"<13>1 - - - - - - \xff\xfe")
def test_any_bytes_parse_or_raise_parse_error(data: bytes) -> None:
    _parse_all_ways(data)


@pytest.mark.timeout(60)
@FUZZ
@given(rfc5424_messages())
def test_near_valid_rfc5424(data: bytes) -> None:
    _parse_all_ways(data)


@pytest.mark.timeout(60)
@FUZZ
@given(rfc3164_messages())
def test_near_valid_rfc3164(data: bytes) -> None:
    _parse_all_ways(data)


@pytest.mark.timeout(60)
@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(st.sampled_from([b"[", b'[a b="', b"\\", b"<1>1 ", b"a" * 7, b" "]), st.integers(1000, 20000))
def test_long_repetitions_stay_fast(unit: bytes, times: int) -> None:
    """Repeated fragments (unterminated SD, escapes, spaces) cost linear time, not quadratic."""
    _parse_all_ways(b"<13>1 - - - - - " + unit * times)
    _parse_all_ways(b"<13>Jan  1 00:00:00 host " + unit * times)
