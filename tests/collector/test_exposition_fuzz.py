"""Fuzzing the exposition parsers (Prometheus text 0.0.4 and OpenMetrics 1.0) with hypothesis.

Property: any bytes, and near-valid bodies (generated families, label sets with escapes, huge numbers,
NaN/Inf spellings, timestamps, exemplars, truncations), either parse or raise :class:`ParseError` (with line
and column set) — never another exception, never a hang. A successful parse yields samples whose keys map
to label sets. Each parser instance is fresh (no cache carried between examples) except in the cache test.
Bounded and deterministic.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from collector.exposition import OPENMETRICS_CONTENT_TYPE, ExpositionParser, ParseError, series_labels

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None)
PER_EXAMPLE_S = 1.0
FORMATS = [None, "text/plain; version=0.0.4", OPENMETRICS_CONTENT_TYPE + "; version=1.0.0"]


def _parse_both(data: bytes, parser: ExpositionParser | None = None) -> None:
    started = time.thread_time()  # CPU time of this thread: the machine's load does not count
    for content_type in FORMATS:
        p = parser or ExpositionParser(registry=None)
        for utf8 in (False, True):
            p.utf8_names = utf8
            try:
                exp = p.parse(data, content_type)
            except ParseError as err:
                assert err.line >= 1 and err.column >= 1, err
                assert str(err)
                continue
            for key, value, ts in exp.samples:
                assert isinstance(value, float)
                assert ts is None or isinstance(ts, int)
                assert "__name__" in dict(series_labels(key))
    assert time.thread_time() - started < PER_EXAMPLE_S, f"parsing {data[:80]!r}... took too long"


_name = st.one_of(
    st.sampled_from(["up", "http_requests_total", "a:b", "_x", "x_bucket", "x_count", "x_sum", "x_created"]),
    st.text("abcxyz_:09", min_size=1, max_size=12),
    st.sampled_from(['"quoted.name"', '"é"', "1bad", ""]),
)
_escape_piece = st.sampled_from(["a", "\\\\", '\\"', "\\n", "\\t", "\\", '"', "é", "\n", "{", "}", ",", "="])
_label_value = st.lists(_escape_piece, max_size=8).map("".join)
_label_name = st.one_of(st.sampled_from(["le", "quantile", "job", "__name__", "a", "_"]), _name)
_labels = st.one_of(
    st.just(""),
    st.lists(st.tuples(_label_name, _label_value), max_size=4).map(
        lambda kv: "{" + ",".join(f'{k}="{v}"' for k, v in kv) + "}"
    ),
    st.lists(st.tuples(_label_name, _label_value), max_size=3).map(
        lambda kv: "{" + ", ".join(f'{k} = "{v}"' for k, v in kv) + ",}"
    ),
)
_value = st.one_of(
    st.sampled_from(
        [
            "NaN",
            "nan",
            "Inf",
            "+Inf",
            "-Inf",
            "inf",
            "+inf",
            "Infinity",
            "-infinity",
            "1e308",
            "1e309",
            "-1e-400",
            "0x1p3",
            "1_000",
            "1.",
            ".5",
            "+",
            "-",
            "",
            "1e",
            "00",
            "9" * 400,
            "1" + "0" * 5000,
        ]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
)
_timestamp = st.one_of(
    st.just(""),
    st.integers(-(10**20), 10**20).map(lambda t: f" {t}"),
    st.sampled_from([" 1.5", " NaN", " +Inf", " 1e3", " -0", " 9" * 2]),
)
_exemplar = st.one_of(
    st.just(""), st.tuples(_labels, _value, _timestamp).map(lambda t: f" # {t[0]} {t[1]}{t[2]}")
)
_type = st.sampled_from(
    [
        "counter",
        "gauge",
        "histogram",
        "summary",
        "untyped",
        "unknown",
        "info",
        "stateset",
        "gaugehistogram",
        "x",
    ]
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 5))
        name = draw(_name)
        if kind == 0:
            lines.append(f"# TYPE {name} {draw(_type)}")
        elif kind == 1:
            lines.append(f"# HELP {name} {draw(_label_value)}")
        elif kind == 2:
            lines.append(f"# UNIT {name} {draw(_name)}")
        elif kind == 3:
            lines.append(draw(st.sampled_from(["", "#", "# comment", " ", "\t", "# EOF"])))
        else:
            lines.append(f"{name}{draw(_labels)} {draw(_value)}{draw(_timestamp)}{draw(_exemplar)}")
    if draw(st.booleans()):
        lines.append("# EOF")
    data = "\n".join(lines).encode("utf-8", "surrogatepass") + draw(st.sampled_from([b"", b"\n", b"\r\n"]))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]  # truncation
    return data


@pytest.mark.timeout(60)
@FUZZ
@given(st.binary(max_size=300))
@example(b"")
@example(b"\n")
@example(b"# EOF\n")
@example(b"\xff")
@example(b"a\xff 1\n")
@example(b'a{b="\xff"} 1\n')
@example(b"a 1 99999999999999999999999999\n")
@example(b"a " + b"9" * 400 + b"\n")
@example(b'a{b="\\')
@example(b'# TYPE a histogram\na_bucket{le="+Inf"} 1\n')
def test_any_bytes_parse_or_raise_parse_error(data: bytes) -> None:
    _parse_both(data)


@pytest.mark.timeout(60)
@FUZZ
@given(bodies())
def test_near_valid_bodies(data: bytes) -> None:
    _parse_both(data)


@pytest.mark.timeout(60)
@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(st.lists(bodies(), min_size=2, max_size=5))
def test_near_valid_bodies_through_one_cached_parser(data: list[bytes]) -> None:
    """Validated-key caches carried from one body to the next never turn a bad body into a crash."""
    parser = ExpositionParser(registry=None, max_keys=8)
    for body in data:
        _parse_both(body, parser)


@pytest.mark.timeout(60)
@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(st.sampled_from([b'a{b="', b"\\", b"{", b"a", b" ", b"# ", b'x="y",']), st.integers(1000, 20000))
def test_long_repetitions_stay_fast(unit: bytes, times: int) -> None:
    _parse_both(unit * times)
    _parse_both(b"m{" + unit * times + b"} 1\n")
