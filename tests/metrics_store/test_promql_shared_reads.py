"""A query that selects one metric several times reads it once (``_prefetch`` + ``EvalContext.select``), and
the dashboard's page snapshot (``SnapshotQuerier``) reads each metric name once per page; the results are the
same as with a read per selector."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from metrics_store.memory import MemoryStore
from metrics_store.model import Labels, Matcher, SeriesData, labels_from
from metrics_store.promql import Engine
from paramedic.dashboard import PromqlMetricsReader, SnapshotQuerier

T0 = 1_700_000_000_000


class Counting:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.selects: list[list[str]] = []

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        self.selects.append(sorted(str(m) for m in matchers))
        return self.store.select(matchers, start_ms, end_ms)

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        return self.store.series(matchers, start_ms, end_ms)


def _store() -> MemoryStore:
    store = MemoryStore()
    for app in ("a", "b"):
        for code, per_s in (("2xx", 9.0), ("5xx", 1.0)):
            ref = store.series_ref(labels_from({"__name__": "req_total", "app": app, "code": code}))
            times = [T0 + i * 15_000 for i in range(240)]
            values = [per_s * 15 * i + (100 if app == "b" and i > 120 else 0) for i in range(240)]
            values = [v if i != 200 else 0.0 for i, v in enumerate(values)]  # a counter reset
            store.append([ref] * len(times), times, values)
    return store


def _values(engine: Engine, query: str) -> list[tuple[Labels, tuple[float, ...]]]:
    m = engine.range_query(query, T0 + 120_000, T0 + 3_500_000, 60_000)
    return [(s.labels, s.values) for s in m.series]


def test_a_metric_selected_twice_in_a_query_is_read_once_with_the_same_result() -> None:
    reads = Counting(_store())
    engine = Engine(reads, registry=CollectorRegistry())
    both = '100 * sum by (app) (rate(req_total{code="5xx"}[1m])) / sum by (app) (rate(req_total[1m]))'
    got = _values(engine, both)
    assert reads.selects == [['__name__="req_total"']]
    num = _values(engine, 'sum by (app) (rate(req_total{code="5xx"}[1m]))')
    den = _values(engine, "sum by (app) (rate(req_total[1m]))")
    expected = [
        (ln, tuple(100 * a / b for a, b in zip(vn, vd, strict=True)))
        for (ln, vn), (_, vd) in zip(num, den, strict=True)
    ]
    assert got == expected


def test_different_windows_are_read_separately() -> None:
    reads = Counting(_store())
    engine = Engine(reads, registry=CollectorRegistry())
    _values(engine, "rate(req_total[1m]) - rate(req_total[5m])")
    assert len(reads.selects) == 2


def test_page_snapshot_reads_each_metric_once_and_matches_direct_queries() -> None:
    store = _store()
    reads = Counting(store)
    end_s = (T0 + 3_600_000) / 1000
    direct = PromqlMetricsReader(store, clock=lambda: end_s)
    snap = PromqlMetricsReader(reads).snapshot(end_s - 3000, end_s)
    for expr in ('sum by (app) (rate(req_total{code="5xx"}[1m]))', "sum(rate(req_total[5m]))", "req_total"):
        assert snap.instant(expr) == direct.instant(expr)
        assert snap.range(expr, end_s - 3000, end_s, 60) == direct.range(expr, end_s - 3000, end_s, 60)
    assert reads.selects == [['__name__="req_total"']]
    assert isinstance(snap._querier, SnapshotQuerier)
