"""The vectorised fast path and the recent-samples window agree with the PromQL engine (the reference)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from alerting.rules._fast import Columns, FastPath
from alerting.rules._window import FanOut, RecentWindow, WindowedQuerier
from metrics_store.memory import MemoryStore
from metrics_store.model import STALE_NAN, Matcher, MatchOp, labels_from
from metrics_store.promql import Engine, Vector

EXPRS = [
    "g",
    'g{app="a1"}',
    'g{app=~"a[12]"}',
    "c_total",
    "rate(c_total[5m])",
    "increase(c_total[2m])",
    "rate(c_total[1m])",
    "avg_over_time(g[5m])",
    "min_over_time(g[3m])",
    "max_over_time(g[5m])",
    "sum_over_time(g[5m])",
    "count_over_time(g[4m])",
    "last_over_time(g[5m])",
    "sum by (app) (rate(c_total[5m]))",
    "max by (app) (g)",
    "min by (app) (avg_over_time(g[5m]))",
    "avg by (app) (g)",
    "count by (app) (g)",
    "sum(g)",
]


@pytest.fixture(scope="module")
def stores() -> tuple[MemoryStore, RecentWindow]:
    rng = np.random.default_rng(3)
    store, window = MemoryStore(), RecentWindow(retention_ms=30 * 60_000)
    fan = FanOut(store, window)
    for i in range(40):
        for name in ("g", "c_total"):
            ref = fan.series_ref(labels_from({"__name__": name, "app": f"a{i % 4}", "instance": f"i{i}"}))
            t0 = int(rng.integers(0, 15_000))
            level = 0.0
            for k in range(100):
                if rng.random() < 0.1:
                    continue  # a missed scrape
                level = level + rng.random() * 10 if name == "c_total" else rng.random() * 100
                if name == "c_total" and rng.random() < 0.02:
                    level = rng.random()  # counter reset
                fan.append([ref], [t0 + k * 15_000], [level])
    return store, window


@pytest.mark.parametrize("expr", EXPRS)
@pytest.mark.parametrize("source", ["window", "store"])
def test_fast_path_matches_engine(stores: tuple[MemoryStore, RecentWindow], expr: str, source: str) -> None:
    store, window = stores
    engine = Engine(store, registry=CollectorRegistry())
    querier = WindowedQuerier(window, store) if source == "window" else store
    fast = FastPath(querier)
    for ts in (600_000, 1_200_000, 1_480_000):
        want = engine.instant_query(expr, ts)
        assert isinstance(want, Vector)
        got = fast(expr, ts)
        assert isinstance(got, Columns), expr
        g = dict(zip(got.labels, got.values.tolist(), strict=True))
        w = {s.labels: s.value for s in want.samples}
        assert set(g) == set(w), (expr, ts)
        for k, v in w.items():
            assert math.isclose(g[k], v, rel_tol=1e-9, abs_tol=1e-12), (expr, ts, k, g[k], v)


@pytest.mark.parametrize(
    "expr", ["g offset 1m", "rate(c_total[5m]) * 2", "topk(2, g)", "sum without (app) (g)"]
)
def test_other_shapes_fall_back(stores: tuple[MemoryStore, RecentWindow], expr: str) -> None:
    assert FastPath(stores[0])(expr, 600_000) is None


def test_staleness_falls_back_or_matches() -> None:
    store = MemoryStore()
    ref = store.series_ref(labels_from({"__name__": "g", "x": "1"}))
    store.append([ref] * 3, [0, 15_000, 30_000], [1.0, 2.0, STALE_NAN])
    fast = FastPath(store)
    got = fast("g", 40_000)
    assert isinstance(got, Columns) and got.labels == []  # the marker ends the series
    assert fast("max_over_time(g[1m])", 40_000) is None  # the engine handles markers inside windows


def test_window_select_matches_store(stores: tuple[MemoryStore, RecentWindow]) -> None:
    store, window = stores
    m = [Matcher("__name__", MatchOp.EQ, "g"), Matcher("app", MatchOp.EQ, "a1")]
    a = {s.labels: (s.timestamps_ms.tolist(), s.values.tolist()) for s in store.select(m, 300_000, 900_000)}
    b = {s.labels: (s.timestamps_ms.tolist(), s.values.tolist()) for s in window.select(m, 300_000, 900_000)}
    assert a == b


@pytest.mark.parametrize(
    "matchers",
    [
        [Matcher("app", MatchOp.EQ, "a1")],
        [Matcher("__name__", MatchOp.RE, "g|c_total"), Matcher("instance", MatchOp.NE, "i3")],
        [Matcher("__name__", MatchOp.NE, "g")],
    ],
    ids=["nameless", "name-regex", "name-neq"],
)
def test_window_select_without_a_name_matches_store(
    stores: tuple[MemoryStore, RecentWindow], matchers: list[Matcher]
) -> None:
    store, window = stores

    def rows(src: MemoryStore | RecentWindow) -> dict[object, object]:
        got = src.select(matchers, 300_000, 900_000)
        return {s.labels: (s.timestamps_ms.tolist(), s.values.tolist()) for s in got}

    assert rows(window) == rows(store) and rows(store)


def test_windowed_querier_takes_names_it_was_not_fed_from_the_store(
    stores: tuple[MemoryStore, RecentWindow],
) -> None:
    store, window = stores
    only_store = labels_from({"__name__": "recorded:g", "app": "a1"})
    mine = MemoryStore()  # the store plus a series only the store has (a recording rule's output)
    for s in store.select([Matcher("__name__", MatchOp.RE, ".+")], 0, 2**62):
        mine.append([mine.series_ref(s.labels)] * len(s.values), s.timestamps_ms.tolist(), s.values.tolist())
    mine.append([mine.series_ref(only_store)], [1_000_000], [7.0])
    q = WindowedQuerier(window, mine)
    engine = Engine(q, registry=CollectorRegistry())
    got: object = None
    for expr in ["recorded:g", '{app="a1"}', 'count({__name__=~"g|recorded:g"})']:
        want = Engine(mine, registry=CollectorRegistry()).instant_query(expr, 1_000_000)
        got = engine.instant_query(expr, 1_000_000)
        assert isinstance(got, Vector) and isinstance(want, Vector)
        assert sorted((s.labels, s.value) for s in got.samples) == sorted(
            (s.labels, s.value) for s in want.samples
        ), expr
    assert isinstance(got, Vector) and got.samples
