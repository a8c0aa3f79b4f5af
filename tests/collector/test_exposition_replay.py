"""The steady-state parse (``ParseMemo``) against the full parser: the same samples, bit for bit, or the same
error, for bodies whose lines repeat with new values (NaN, ±Inf, exponents, signs, timestamps, invalid
tokens, negative buckets) and for bodies whose lines change (added, removed, swapped, edited)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.exposition import (
    OPENMETRICS_CONTENT_TYPE,
    Exposition,
    ExpositionParser,
    ParseError,
    ParseMemo,
)

TEXT = "text/plain; version=0.0.4"
CASES = settings(max_examples=200, deadline=None, derandomize=True, database=None)


def _outcome(parser: ExpositionParser, body: bytes, ctype: str, memo: ParseMemo | None) -> object:
    try:
        exp = parser.parse(body, ctype, memo)
    except ParseError as err:
        return ("error", str(err))
    return _exact(exp)


def _exact(exp: Exposition) -> object:
    """Samples with values as their bits (NaN payloads, -0.0), families as tuples."""
    samples = [(k, struct.pack("<d", v), ts) for k, v, ts in exp.samples]
    if exp.columns is not None:  # the columns are the samples
        assert all(ts is None for _, _, ts in exp.samples)
        keys, values = exp.columns
        assert [(k, struct.pack("<d", v), None) for k, v in zip(keys, values, strict=True)] == samples
    fams = {n: (f.name, f.type, f.help, f.unit) for n, f in exp.families.items()}
    return ("ok", samples, fams)


def _check(bodies: list[bytes], ctype: str = TEXT, *, normalise: bool = True) -> ParseMemo:
    """Each body through one parser with a memo and through a fresh parser without: the same outcome."""
    memo = ParseMemo()
    with_memo = ExpositionParser(registry=None, normalise_float_labels=normalise)
    for body in bodies:
        full = ExpositionParser(registry=None, normalise_float_labels=normalise)
        assert _outcome(with_memo, body, ctype, memo) == _outcome(full, body, ctype, None), body
    return memo


_VALUES = st.one_of(
    st.sampled_from(
        ["NaN", "nan", "Inf", "+Inf", "-Inf", "1e308", "1e309", "-1e-400", "1_000", "1.", ".5", "-0", "0.0"]
    ),
    st.sampled_from(["", "+", "-", "1e", "0x1p3", "+NaN", "1 2", "\t1", "1\t", "é", "00", "1e-05"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
)
_PLAIN = st.one_of(st.integers(0, 10**12).map(str), st.floats(0, 1e9).map(repr))
_NAMES = st.sampled_from(["up", "req_total", "lat_bucket", "lat_count", "lat_sum", "q", '{"dotted.name"'])
_LABELS = st.sampled_from(
    ["", '{a="1"}', '{le="0.5"}', '{le="1"}', '{quantile="0.9"}', '{a="x y"}', '{a="\\"q\\" \\\\ \\n"}', "{}"]
)
_COMMENTS = st.sampled_from(
    [
        "# TYPE lat histogram",
        "# TYPE q summary",
        "# TYPE req_total counter",
        "# HELP up Whether it is up.",
        "# plain comment",
        "",
        "   ",
        "# TYPE up gauge",
    ]
)


@st.composite
def _shapes(draw: st.DrawFn) -> list[tuple[str, bool] | str]:
    """Lines of a body: a comment/blank line (str) or a sample's series text and whether it has a ts."""
    out: list[tuple[str, bool] | str] = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.integers(0, 3)) == 0:
            out.append(draw(_COMMENTS))
            continue
        name = draw(_NAMES)
        series = name + '"}' if name.startswith("{") else name + draw(_LABELS)
        if name.startswith("{"):
            series = '{"dotted.name"}'
        out.append((series, draw(st.integers(0, 4)) == 0))
    return out


def _render(shape: list[tuple[str, bool] | str], values: list[str], stamps: list[str]) -> bytes:
    lines = []
    for i, line in enumerate(shape):
        if isinstance(line, str):
            lines.append(line)
            continue
        series, has_ts = line
        lines.append(f"{series} {values[i]}" + (f" {stamps[i]}" if has_ts else ""))
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.timeout(120)
@CASES
@given(_shapes(), st.data())
def test_same_lines_new_values_equal_the_full_parse(
    shape: list[tuple[str, bool] | str], data: st.DataObject
) -> None:
    n = len(shape)
    stamps = st.lists(
        st.one_of(st.integers(-(2**63), 2**63 - 1).map(str), st.sampled_from(["", "1.5", "+5", "x"])),
        min_size=n,
        max_size=n,
    )
    first = _render(shape, data.draw(st.lists(_PLAIN, min_size=n, max_size=n)), ["1"] * n)
    bodies = [first, first]
    for _ in range(data.draw(st.integers(1, 4))):
        values = data.draw(st.lists(st.one_of(_PLAIN, _VALUES), min_size=n, max_size=n))
        bodies.append(_render(shape, values, data.draw(stamps)))
    _check(bodies)
    _check(bodies, normalise=False)


@pytest.mark.timeout(120)
@CASES
@given(_shapes(), st.data())
def test_changed_lines_fall_back_to_the_full_parse(
    shape: list[tuple[str, bool] | str], data: st.DataObject
) -> None:
    n = len(shape)
    values = data.draw(st.lists(_PLAIN, min_size=n, max_size=n))
    bodies = [_render(shape, values, ["7"] * n)] * 2
    for _ in range(data.draw(st.integers(1, 3))):
        changed = list(shape)
        i = data.draw(st.integers(0, n - 1))
        how = data.draw(st.integers(0, 3))
        if how == 0:
            del changed[i]
        elif how == 1:
            changed.insert(i, data.draw(st.one_of(_COMMENTS, st.tuples(st.just("extra"), st.booleans()))))
        elif how == 2:
            changed[0], changed[i] = changed[i], changed[0]
        else:
            changed[i] = ("edited" + str(i), False)
        bodies.append(_render(changed, [*values, "3"], ["7"] * (n + 1)))
        bodies.append(_render(shape, values, ["8"] * n))
    _check(bodies)


def _steady_body(second: int) -> bytes:
    lines = ["# HELP req_total Requests.", "# TYPE req_total counter"]
    lines += [f'req_total{{code="{200 + i}",path="/a b"}} {second * (i + 1)}' for i in range(50)]
    lines += ["# TYPE lat histogram"]
    lines += [f'lat_bucket{{le="{le}"}} {second + i}' for i, le in enumerate(["0.1", "1", "+Inf"])]
    lines += [f"lat_count {second + 2}", f"lat_sum {second / 7!r}", f"up 1 {second * 1000}"]
    return ("\n".join(lines) + "\n").encode()


def test_steady_bodies_take_the_replay() -> None:
    memo = _check([_steady_body(s) for s in range(100, 110)])
    assert memo.hits == 9  # all but the first body, which made the template


def test_replay_refuses_what_the_full_parser_rejects_or_treats_apart() -> None:
    base = _steady_body(100).decode()
    bodies = [
        base.encode(),
        base.replace("lat_count 102", "lat_count -1").encode(),  # negative count: the full parser's error
        base.replace("lat_sum ", "lat_sum +").replace("14.285714285714286", "Inf").encode(),  # +Inf: fine
        base.replace(
            'req_total{code="200",path="/a b"} 100', 'req_total{code="200",path="/a b"} 1_0'
        ).encode(),
        base.replace("up 1 100000", "up 1 1.5").encode(),  # a float timestamp
        base.replace("up 1 100000", "up 1 100000 5").encode(),
        _steady_body(101),
    ]
    memo = _check(bodies)
    assert memo.hits == 1  # only the last body is steady (the +Inf one goes to the full parser)


def test_openmetrics_bodies_do_not_use_the_memo() -> None:
    bodies = [b"# TYPE a counter\na_total 1\n# EOF\n", b"# TYPE a counter\na_total 2\n# EOF\n"]
    memo = _check(bodies, OPENMETRICS_CONTENT_TYPE)
    assert memo.hits == 0


def test_a_memo_learned_by_one_parser_is_not_replayed_by_another() -> None:
    body = b'# TYPE h histogram\nh_bucket{le="1"} 1\n'
    memo = ParseMemo()
    normalising = ExpositionParser(registry=None, normalise_float_labels=True)
    plain = ExpositionParser(registry=None)
    assert normalising.parse(body, TEXT, memo).samples[0][0] == 'h_bucket{le="1.0"}'
    assert plain.parse(body, TEXT, memo).samples[0][0] == 'h_bucket{le="1"}'
    assert memo.hits == 0


def test_duplicate_series_lines_replay_as_the_full_parser_gives_them() -> None:
    bodies = [f'a{{x="1"}} {v}\nb 2\na{{x="1"}} {v + 1}\nb 3\n'.encode() for v in range(5)]
    memo = _check(bodies)
    assert memo.hits == 4
