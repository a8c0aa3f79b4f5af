"""Engine limits, error translation and self-instrumentation, over a real MemoryStore."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry

from metrics_store.base import StoreError
from metrics_store.memory import MemoryStore
from metrics_store.model import Labels, Matcher, SeriesData, labels_from
from metrics_store.promql import (
    Engine,
    Matrix,
    QueryParseError,
    QueryStorageError,
    QueryTimeoutError,
    TooManySamplesError,
    UnsupportedError,
    Vector,
)
from metrics_store.promql.semantics import semantics_for


def _store(n_series: int = 3, n_samples: int = 100) -> MemoryStore:
    store = MemoryStore()
    for i in range(n_series):
        ref = store.series_ref(labels_from({"__name__": "m", "i": str(i)}))
        store.append(
            [ref] * n_samples, [t * 15_000 for t in range(n_samples)], [float(t) for t in range(n_samples)]
        )
    return store


class _FailingQuerier:
    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        raise StoreError("disk on fire")

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        raise StoreError("disk on fire")


def test_max_samples_is_enforced() -> None:
    engine = Engine(_store(), max_samples=100, registry=CollectorRegistry())
    with pytest.raises(TooManySamplesError, match="query processing would load too many samples"):
        engine.instant_query("sum_over_time(m[1h])", 1_000_000)
    # Within the limit, the same engine answers.
    assert isinstance(engine.instant_query("m", 1_000_000), Vector)


def test_timeout_uses_the_injected_clock() -> None:
    ticks = iter(range(0, 10_000, 10))
    engine = Engine(_store(), timeout_s=5, monotonic=lambda: float(next(ticks)), registry=CollectorRegistry())
    with pytest.raises(QueryTimeoutError, match="query timed out"):
        engine.range_query("rate(m[5m])", 0, 1_500_000, 15_000)


def test_storage_errors_are_translated_with_cause() -> None:
    engine = Engine(_FailingQuerier(), registry=CollectorRegistry())
    with pytest.raises(QueryStorageError) as info:
        engine.instant_query("m", 0)
    assert isinstance(info.value.__cause__, StoreError)


def test_parse_and_unsupported_errors() -> None:
    # limitk is one of Prometheus 3's experimental aggregations: enabled, it is still not implemented here
    engine = Engine(
        _store(), registry=CollectorRegistry(), semantics=semantics_for("3", experimental_functions=True)
    )
    with pytest.raises(QueryParseError):
        engine.instant_query("sum(", 0)
    with pytest.raises(UnsupportedError, match="aggregation limitk is not supported"):
        engine.instant_query("limitk(2, m)", 0)
    with pytest.raises(QueryParseError, match='invalid expression type "range vector" for range query'):
        engine.range_query("m[5m]", 0, 60_000, 15_000)


def test_range_query_equals_instant_queries_at_each_step() -> None:
    store = _store(n_series=4, n_samples=200)
    engine = Engine(store, registry=CollectorRegistry())
    query = "sum by (i) (rate(m[2m])) + on(i) avg_over_time(m[1m] offset 30s) > 10"
    matrix = engine.range_query(query, 0, 3_000_000, 45_000)
    assert isinstance(matrix, Matrix) and matrix.series
    for series in matrix.series:
        for t, v in zip(series.timestamps_ms, series.values, strict=True):
            instant = engine.instant_query(query, t)
            assert isinstance(instant, Vector)
            assert {s.labels: s.value for s in instant.samples}[series.labels] == pytest.approx(v)


def test_metrics_are_recorded_in_the_given_registry() -> None:
    registry = CollectorRegistry()
    engine = Engine(_store(), registry=registry, semantics=semantics_for("3", experimental_functions=True))
    engine.instant_query("m", 1_000_000)
    with pytest.raises(UnsupportedError):
        engine.instant_query("limitk(2, m)", 0)
    assert registry.get_sample_value("paramedic_promql_queries_total", {"kind": "instant"}) == 2
    assert (
        registry.get_sample_value(
            "paramedic_promql_query_errors_total", {"kind": "instant", "reason": "bad_data"}
        )
        == 1
    )
    assert (registry.get_sample_value("paramedic_promql_samples_loaded_total") or 0) > 0


def test_series_present_at_every_step_share_one_timestamp_tuple() -> None:
    # 10k series x 240 steps held 2.4 M int objects, one tuple per series, for the same grid
    store = _store(n_series=3, n_samples=100)
    ref = store.series_ref(labels_from({"__name__": "m", "i": "late"}))
    store.append([ref] * 10, [t * 15_000 for t in range(90, 100)], [1.0] * 10)
    matrix = Engine(store, registry=CollectorRegistry()).range_query("m", 0, 1_485_000, 15_000)
    assert isinstance(matrix, Matrix)
    full = [s for s in matrix.series if len(s.timestamps_ms) == 100]
    late = [s for s in matrix.series if s.labels[-1] == ("i", "late")]
    assert len(full) == 3
    assert full[0].timestamps_ms is full[1].timestamps_ms is full[2].timestamps_ms
    assert late[0].timestamps_ms == tuple(t * 15_000 for t in range(90, 100))
