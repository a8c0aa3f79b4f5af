"""One contract, every store: ``memory``, ``embedded`` (samples in the WAL/head), ``embedded_db`` (the same
after a checkpoint into DuckDB), ``remote`` (a real VictoriaMetrics) and ``vmcluster`` (the same store in
cluster mode against a real VictoriaMetrics cluster: 2 vminsert, 1 vmselect, 3 vmstorage,
``-replicationFactor=2``; reported as not run, loudly, when its binaries could not be built).
Test ids are ``<backend>:<check>``.

Documented remote differences (see metrics_store.remote.store): NaN and staleness markers are not stored,
subnormal floats become 0.0, and for duplicate timestamps VM returns one of the written values rather than the
last written.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from metrics_store.model import (
    STALE_NAN,
    STALE_NAN_BITS,
    Labels,
    Matcher,
    MatchOp,
    SeriesData,
    labels_from,
    labels_get,
    stale_mask,
)
from tests.metrics_store.conftest import BACKEND_MARKS, BACKENDS, POLLED, Backend

NAME = "__name__"


def _by_label(result: list[SeriesData], label: str) -> dict[str, SeriesData]:
    return {labels_get(s.labels, label): s for s in result}


def _write(b: Backend, labels: dict[str, str], ts: list[int], values: list[float]) -> Labels:
    lbl = labels_from(labels)
    ref = b.store.series_ref(lbl)
    b.store.append([ref] * len(ts), ts, values)
    return lbl


def round_trip(b: Backend) -> None:
    name = b.name("rt")
    written = {}
    for i in range(3):
        ts = [b.base_ms + k * 15_000 for k in range(10)]
        vals = [float(i * 100 + k) + 0.25 for k in range(10)]
        written[str(i)] = (_write(b, {NAME: name, "inst": str(i), "job": "api"}, ts, vals), ts, vals)
    res = b.query(
        lambda: b.store.select([Matcher(NAME, MatchOp.EQ, name)], b.base_ms, b.base_ms + 3_600_000),
        lambda r: sum(len(s.timestamps_ms) for s in r) == 30,
    )
    got = _by_label(res, "inst")
    assert sorted(got) == ["0", "1", "2"]
    for inst, (labels, ts, vals) in written.items():
        assert got[inst].labels == labels
        assert got[inst].timestamps_ms.dtype == np.int64 and got[inst].values.dtype == np.float64
        assert got[inst].timestamps_ms.tolist() == ts
        assert got[inst].values.tolist() == vals


def matchers(b: Backend) -> None:
    name = b.name("m")
    ts = [b.base_ms]
    _write(b, {NAME: name, "id": "a", "env": "prod"}, ts, [1.0])
    _write(b, {NAME: name, "id": "b", "env": "dev"}, ts, [2.0])
    _write(b, {NAME: name, "id": "c"}, ts, [3.0])  # no env label
    _write(b, {NAME: name + "_other", "id": "d", "env": "prod"}, ts, [4.0])
    b.query(
        lambda: b.store.select([Matcher(NAME, MatchOp.RE, f"{name}.*")], b.base_ms, b.base_ms),
        lambda r: len(r) == 4,
    )
    cases = {
        (Matcher("env", MatchOp.EQ, "prod"),): ["a"],
        (Matcher("env", MatchOp.EQ, ""),): ["c"],
        (Matcher("env", MatchOp.NE, "prod"),): ["b", "c"],
        (Matcher("env", MatchOp.NE, ""),): ["a", "b"],
        (Matcher("env", MatchOp.RE, "pr.*"),): ["a"],
        (Matcher("env", MatchOp.RE, "prod|"),): ["a", "c"],
        (Matcher("env", MatchOp.RE, "rod"),): [],  # anchored
        (Matcher("env", MatchOp.NRE, "d.*"),): ["a", "c"],
        (Matcher("missing", MatchOp.EQ, ""),): ["a", "b", "c"],
        (Matcher("missing", MatchOp.EQ, "x"),): [],
        (Matcher("env", MatchOp.NRE, ".+"), Matcher("id", MatchOp.RE, "a|c")): ["c"],
    }
    for extra, expected in cases.items():
        sel = [Matcher(NAME, MatchOp.EQ, name), *extra]
        got = sorted(labels_get(s.labels, "id") for s in b.store.select(sel, b.base_ms, b.base_ms))
        assert got == expected, [str(m) for m in extra]


def range_query(b: Backend) -> None:
    name = b.name("range")
    ts = [b.base_ms + k * 1000 for k in range(10)]
    _write(b, {NAME: name, "s": "1"}, ts, [float(k) for k in range(10)])
    _write(b, {NAME: name, "s": "2"}, [b.base_ms + 60_000], [7.0])
    sel = [Matcher(NAME, MatchOp.EQ, name)]
    b.query(lambda: b.store.select(sel, b.base_ms, b.base_ms + 60_000), lambda r: len(r) == 2)
    res = b.store.select(sel, ts[2], ts[5])
    assert len(res) == 1  # series 2 has no sample in range: omitted
    assert res[0].timestamps_ms.tolist() == ts[2:6]  # both bounds inclusive
    assert res[0].values.tolist() == [2.0, 3.0, 4.0, 5.0]
    assert b.store.select(sel, ts[-1] + 1, b.base_ms + 59_999) == []
    single = b.store.select(sel, ts[9], ts[9])
    assert single[0].timestamps_ms.tolist() == [ts[9]]


def out_of_order(b: Backend) -> None:
    name = b.name("ooo")
    lbl = labels_from({NAME: name})
    ref = b.store.series_ref(lbl)
    b.store.append([ref, ref], [b.base_ms + 5000, b.base_ms + 9000], [5.0, 9.0])
    b.settle()  # for embedded_db: the next batch lands behind a checkpoint
    b.store.append([ref, ref, ref], [b.base_ms + 1000, b.base_ms + 7000, b.base_ms + 3000], [1.0, 7.0, 3.0])
    res = b.query(
        lambda: b.store.select([Matcher(NAME, MatchOp.EQ, name)], b.base_ms, b.base_ms + 10_000),
        lambda r: len(r) == 1 and len(r[0].timestamps_ms) == 5,
    )
    assert res[0].timestamps_ms.tolist() == [b.base_ms + k for k in (1000, 3000, 5000, 7000, 9000)]
    assert res[0].values.tolist() == [1.0, 3.0, 5.0, 7.0, 9.0]


def duplicates(b: Backend) -> None:
    name = b.name("dup")
    ref = b.store.series_ref(labels_from({NAME: name}))
    t = b.base_ms
    b.store.append([ref, ref], [t, t + 1000], [1.0, 2.0])
    b.settle()
    b.store.append([ref, ref], [t + 1000, t + 1000], [3.0, 4.0])  # two rewrites of t+1000
    res = b.query(
        lambda: b.store.select([Matcher(NAME, MatchOp.EQ, name)], t, t + 1000),
        lambda r: len(r) == 1 and len(r[0].timestamps_ms) == 2,
    )
    assert res[0].timestamps_ms.tolist() == [t, t + 1000]  # one sample per timestamp
    if b.kind in POLLED:
        assert res[0].values[1] in (2.0, 3.0, 4.0)  # VM keeps raw duplicates; which one it returns is VM's
    else:
        assert res[0].values.tolist() == [1.0, 4.0]  # last write wins


def special_values(b: Backend) -> None:
    name = b.name("special")
    t = b.base_ms
    vals = [math.nan, math.inf, -math.inf, STALE_NAN, 0.0, -0.0, 1e300, 5e-324]
    _write(b, {NAME: name}, [t + k for k in range(len(vals))], vals)
    expect_n = len(vals) - (2 if b.kind in POLLED else 0)
    res = b.query(
        lambda: b.store.select([Matcher(NAME, MatchOp.EQ, name)], t, t + 100),
        lambda r: len(r) == 1 and len(r[0].timestamps_ms) == expect_n,
    )
    got = res[0]
    bits = got.values.view(np.uint64)
    if b.kind in POLLED:  # NaN and the staleness marker are not representable in line protocol
        assert got.timestamps_ms.tolist() == [t + k for k in (1, 2, 4, 5, 6, 7)]
        # VM stores decimal mantissa/exponent: subnormals such as 5e-324 come back as 0.0
        assert got.values.tolist() == [math.inf, -math.inf, 0.0, -0.0, 1e300, 0.0]
        return
    assert got.timestamps_ms.tolist() == [t + k for k in range(len(vals))]
    expected_bits = np.array(vals, dtype=np.float64).view(np.uint64)
    assert bits.tolist() == expected_bits.tolist()  # bit-exact, incl. -0.0 and the NaN payloads
    assert stale_mask(got.values).tolist() == [False, False, False, True, False, False, False, False]
    assert int(bits[3]) == STALE_NAN_BITS and math.isnan(got.values[0]) and int(bits[0]) != STALE_NAN_BITS


def many_series(b: Backend) -> None:
    name = b.name("many")
    n = 300
    refs = [b.store.series_ref(labels_from({NAME: name, "i": str(i), "g": str(i % 3)})) for i in range(n)]
    for k in range(4):
        b.store.append(refs, [b.base_ms + k * 10_000] * n, [float(i + k) for i in range(n)])
    res = b.query(
        lambda: b.store.select([Matcher(NAME, MatchOp.EQ, name)], b.base_ms, b.base_ms + 40_000),
        lambda r: sum(len(s.timestamps_ms) for s in r) == 4 * n,
    )
    assert len(res) == n
    for s in res:
        i = int(labels_get(s.labels, "i"))
        assert s.values.tolist() == [float(i + k) for k in range(4)]
    g1 = b.store.select(
        [Matcher(NAME, MatchOp.EQ, name), Matcher("g", MatchOp.EQ, "1")], b.base_ms, b.base_ms
    )
    assert sorted(int(labels_get(s.labels, "i")) for s in g1) == list(range(1, n, 3))
    tens = b.store.select([Matcher(NAME, MatchOp.EQ, name), Matcher("i", MatchOp.RE, "1[0-9]")], 0, 2**62)
    assert sorted(int(labels_get(s.labels, "i")) for s in tens) == list(range(10, 20))


def series_api(b: Backend) -> None:
    name = b.name("ser")
    a = _write(b, {NAME: name, "job": "api", "zone": "z1"}, [b.base_ms], [1.0])
    c = _write(b, {NAME: name, "job": "db"}, [b.base_ms + 50_000], [2.0])
    sel = [Matcher(NAME, MatchOp.EQ, name)]
    got = b.query(lambda: b.store.series(sel, b.base_ms, b.base_ms + 50_000), lambda r: len(r) == 2)
    assert sorted(got) == sorted([a, c])
    names = sorted({k for lbl in got for k, _ in lbl})
    assert names == [NAME, "job", "zone"]
    assert sorted(labels_get(lbl, "job") for lbl in got) == ["api", "db"]
    assert b.store.series(sel, b.base_ms + 1, b.base_ms + 49_999) == []  # only series with samples in range
    assert b.store.series(sel, b.base_ms + 1, b.base_ms + 50_000) == [c]
    assert b.store.series_ref(a) == b.store.series_ref(a)  # refs are stable


def time_bounds(b: Backend) -> None:
    """Times beyond int64 milliseconds (the HTTP API passes on any number it parses, e.g. ``end=1e300``)
    answer like the widest range, never a storage error."""
    name = b.name("tb")
    lbl = _write(b, {NAME: name}, [b.base_ms], [1.0])
    sel = [Matcher(NAME, MatchOp.EQ, name)]
    b.query(lambda: b.store.series(sel, b.base_ms, b.base_ms), lambda r: r == [lbl])
    assert b.store.series(sel, -(2**200), 2**200) == [lbl]
    assert [s.timestamps_ms.tolist() for s in b.store.select(sel, -(2**200), 2**200)] == [[b.base_ms]]
    assert b.store.series(sel, 2**200, 2**201) == []
    assert b.store.select(sel, -(2**201), -(2**200)) == []


CHECKS: list[Callable[[Backend], None]] = [
    round_trip,
    matchers,
    range_query,
    out_of_order,
    duplicates,
    special_values,
    many_series,
    series_api,
    time_bounds,
]


@pytest.mark.parametrize(
    ("backend", "check"),
    [
        pytest.param(kind, check, id=f"{kind}:{check.__name__}", marks=BACKEND_MARKS.get(kind, []))
        for kind in BACKENDS
        for check in CHECKS
    ],
    indirect=["backend"],
)
def test_contract(backend: Backend, check: Callable[[Backend], None]) -> None:
    check(backend)
