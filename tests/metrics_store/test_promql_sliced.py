"""Selectors and per-series range functions over the embedded store are evaluated slice by slice
(``_sliced``, ``EmbeddedStore.select_slices``): a long range's samples are never all read at once, and every
answer is bit for bit the one of a single read, whatever the slices and whatever the refs' order against the
label order."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from metrics_store.embedded import EmbeddedStore
from metrics_store.embedded import store as store_module
from metrics_store.model import STALE_NAN, Labels, Matcher, MatchOp, SeriesData, labels_from
from metrics_store.promql import Engine
from metrics_store.promql._selectors import _pack
from metrics_store.promql.errors import TooManySamplesError
from metrics_store.promql.semantics import PROMETHEUS_2, PROMETHEUS_3, Semantics

T0 = 1_700_000_000_000
STEP = 15_000
POINTS = 480  # 2 h
SERIES = 40


class Plain:
    """The store seen through the plain Querier seam only: one read per select, as before slices."""

    def __init__(self, store: EmbeddedStore) -> None:
        self.store = store

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        return self.store.select(matchers, start_ms, end_ms)

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        return self.store.series(matchers, start_ms, end_ms)


class Sliced(Plain):
    """The store's sliced reads, recording each slice's series and samples."""

    def __init__(self, store: EmbeddedStore) -> None:
        super().__init__(store)
        self.slices: list[tuple[int, int]] = []

    def select_slices(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> Iterator[list[SeriesData]]:
        for data in self.store.select_slices(matchers, start_ms, end_ms):
            self.slices.append((len(data), sum(len(s.timestamps_ms) for s in data)))
            yield data


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedStore]:
    monkeypatch.setattr(store_module, "_SLICE_ROWS", 2_000)
    monkeypatch.setattr(store_module, "_MIN_SLICE_SERIES", 3)
    s = EmbeddedStore(tmp_path, registry=CollectorRegistry(), background=False)
    rng = random.Random(7)
    names = [f"i{k}" for k in range(SERIES)]
    rng.shuffle(names)  # refs in an order unrelated to the label order
    for k, inst in enumerate(names):
        extra = {"A": "x"} if k % 3 == 0 else {}  # a label that sorts before __name__
        labels = {"__name__": "req_total", "instance": inst, "code": "5xx" if k % 4 == 0 else "2xx", **extra}
        ref = s.series_ref(labels_from(labels))
        times = [T0 + i * STEP + (k % 5) * 1_000 for i in range(POINTS) if (i + k) % 37 != 0]  # gaps
        values = [float(i * (k + 1)) if i < 300 else float((i - 300) * 2) for i in range(len(times))]  # reset
        if k % 7 == 0:
            values[100] = float("nan")
            values[150] = STALE_NAN
        s.append([ref] * len(times), times, values)
        if k % 2 == 0:  # every other series: an hour of it only on the next day's start
            s.append([ref], [T0 + POINTS * STEP + 60_000], [1e9])
    other = s.series_ref(labels_from({"__name__": "other_total", "instance": "i0"}))
    s.append([other] * 10, [T0 + i * STEP for i in range(10)], [float(i) for i in range(10)])
    s.checkpoint()
    late = s.series_ref(labels_from({"__name__": "req_total", "instance": "late", "code": "2xx"}))
    s.append([late] * 20, [T0 + (POINTS - 20 + i) * STEP for i in range(20)], [float(i) for i in range(20)])
    first = s._index.get(
        labels_from({"__name__": "req_total", "instance": names[0], "code": "5xx", "A": "x"})
    )
    assert first is not None
    s.append([first], [T0 + 200 * STEP], [-5.0])  # the head's write of a folded (ref, ts) wins
    yield s
    s.close()


QUERIES = [
    "req_total",
    "rate(req_total[5m])",
    "increase(req_total[3m])",
    "delta(req_total[2m])",
    "irate(req_total[1m])",
    "sum by (code) (rate(req_total[5m]))",
    "max by (code) (rate(req_total[5m]))",
    "avg_over_time(req_total[10m])",
    "last_over_time(req_total[10m])",
    "stddev_over_time(req_total[10m])",
    "count_over_time(req_total[10m])",
    'present_over_time(req_total{code="5xx"}[10m])',
    "rate(req_total[5m] offset 10m)",
    "sum(rate(req_total[5m])) / sum(rate(req_total[10m]))",
    "req_total - req_total offset 5m",
    "rate(req_total[5m]) and rate(req_total[5m])",
]

# selected twice over one window: prefetched whole (``_prefetch``), not sliced
READ_ONCE_BEFORE = {"rate(req_total[5m]) and rate(req_total[5m])"}


def _bits(engine: Engine, query: str) -> list[tuple[Labels, list[int], bytes]]:
    m = engine.range_query(query, T0 - 600_000, T0 + (POINTS + 10) * STEP, 30_000)
    return [
        (s.labels, list(s.timestamps_ms), np.array(s.values, dtype=np.float64).tobytes()) for s in m.series
    ]


@pytest.mark.parametrize("semantics", [PROMETHEUS_2, PROMETHEUS_3], ids=["2.42", "3"])
@pytest.mark.parametrize("query", QUERIES)
def test_sliced_answers_are_those_of_one_read(store: EmbeddedStore, query: str, semantics: Semantics) -> None:
    sliced = Sliced(store)
    got = _bits(Engine(sliced, registry=CollectorRegistry(), semantics=semantics), query)
    want = _bits(Engine(Plain(store), registry=CollectorRegistry(), semantics=semantics), query)
    assert got == want
    assert got
    assert sliced.slices or query in READ_ONCE_BEFORE  # the sliced path was taken


def test_a_long_read_comes_in_bounded_slices(store: EmbeddedStore) -> None:
    sliced = Sliced(store)
    Engine(sliced, registry=CollectorRegistry()).range_query(
        "sum by (code) (rate(req_total[5m]))", T0, T0 + POINTS * STEP, STEP
    )
    assert len(sliced.slices) >= 5
    assert sum(n for n, _ in sliced.slices) == SERIES + 1  # every req_total series, once
    # about _SLICE_ROWS a slice: sized by the rows per series read so far (the first by a 15 s guess)
    assert max(rows for _, rows in sliced.slices) <= 2_000 + 3 * (POINTS + 2)


def test_store_slices_hold_every_series_of_select_once(store: EmbeddedStore) -> None:
    matchers = [Matcher("__name__", MatchOp.EQ, "req_total")]
    whole = {s.labels: s for s in store.select(matchers, T0, T0 + POINTS * STEP)}
    parts = [s for data in store.select_slices(matchers, T0, T0 + POINTS * STEP) for s in data]
    assert len(parts) == len(whole)
    for s in parts:
        w = whole[s.labels]
        assert s.timestamps_ms.tolist() == w.timestamps_ms.tolist()
        assert s.values.tobytes() == w.values.tobytes()


def test_max_samples_counts_every_slice(store: EmbeddedStore) -> None:
    sliced = Sliced(store)
    query = "count_over_time(req_total[2h])"
    args = (query, T0 + POINTS * STEP, T0 + POINTS * STEP, STEP)
    limit = 2_500  # above any slice's samples, below the window's (~18 k)
    with pytest.raises(TooManySamplesError):
        Engine(Plain(store), registry=CollectorRegistry(), max_samples=limit).range_query(*args)
    with pytest.raises(TooManySamplesError):
        Engine(sliced, registry=CollectorRegistry(), max_samples=limit).range_query(*args)
    assert len(sliced.slices) >= 1
    assert max(rows for _, rows in sliced.slices) < limit


def test_a_slice_in_read_order_is_packed_without_a_copy() -> None:
    ts = np.arange(10, dtype=np.int64) * 1000
    values = np.arange(10, dtype=np.float64)
    data = [
        SeriesData((("i", str(k)),), ts[a:b], values[a:b])
        for k, (a, b) in enumerate([(0, 3), (3, 7), (7, 10)])
    ]
    packed = _pack(data, 0, 9000, read_order=True)
    assert packed is not None
    got_ts, got_values = packed[0], packed[1]
    assert np.shares_memory(got_ts, ts) and np.shares_memory(got_values, values)
    assert not got_ts.flags.writeable and not got_values.flags.writeable
    assert got_ts.tolist() == ts.tolist() and got_values.tolist() == values.tolist()
    # out of the read's order: a copy, in the order given
    for order in ([1, 0, 2], [0, 2, 1]):
        copied = _pack([data[k] for k in order], 0, 9000, read_order=True)
        assert copied is not None
        assert not np.shares_memory(copied[0], ts)
        assert copied[0].tolist() == [t for k in order for t in data[k].timestamps_ms.tolist()]
    # a whole read (sorted by labels) is never taken as a span: a copy, as before
    whole = _pack(data, 0, 9000)
    assert whole is not None
    assert not np.shares_memory(whole[0], ts)
    assert whole[0].tolist() == ts.tolist()
