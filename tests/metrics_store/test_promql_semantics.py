"""promql.semantics: the same data answered as Prometheus 3 and as Prometheus 2.42 answer it, at the exact
boundaries where the two differ (the real servers' answers: tests/differential)."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry

from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from
from metrics_store.promql import Engine, Matrix, QueryParseError, Vector, parse
from metrics_store.promql.semantics import PROMETHEUS_2, PROMETHEUS_3, Semantics, semantics_for

EXPERIMENTAL = semantics_for("3", experimental_functions=True)


@pytest.fixture(scope="module")
def store() -> MemoryStore:
    s = MemoryStore()
    ref = s.series_ref(labels_from({"__name__": "x", "job": "a"}))
    s.append([ref] * 5, [0, 15_000, 30_000, 45_000, 60_000], [1.0, 2.0, 4.0, 7.0, 11.0])
    for name, line, value in (("text", "a\nb", 1.0), ("text", "ab", 2.0)):
        ref = s.series_ref(labels_from({"__name__": name, "line": line}))
        s.append([ref], [60_000], [value])
    ref = s.series_ref(labels_from({"__name__": "my.metric", "label.x": "v"}))
    s.append([ref] * 2, [30_000, 60_000], [3.0, 5.0])
    return s


def _engine(store: MemoryStore, semantics: Semantics) -> Engine:
    return Engine(store, registry=CollectorRegistry(), semantics=semantics)


def _values(value: object) -> list[float]:
    assert isinstance(value, Vector), value
    return sorted(s.value for s in value.samples)


@pytest.mark.parametrize(
    ("query", "v2", "v3"),
    [
        ("count_over_time(x[30s])", 3.0, 2.0),  # (30 s, 60 s] in 3.x; [30 s, 60 s] in 2.42
        ("sum_over_time(x[45s])", 24.0, 22.0),
        ("count_over_time(x[30s:15s])", 3.0, 2.0),  # subquery windows too
        ("count_over_time(x[1m:30s])", 3.0, 2.0),  # inner steps 0, 30, 60 vs 30, 60
    ],
)
def test_range_windows_are_left_open_in_3(store: MemoryStore, query: str, v2: float, v3: float) -> None:
    assert _values(_engine(store, PROMETHEUS_2).instant_query(query, 60_000)) == [v2]
    assert _values(_engine(store, PROMETHEUS_3).instant_query(query, 60_000)) == [v3]


def test_range_selector_drops_the_sample_at_the_range_start(store: MemoryStore) -> None:
    for semantics, first in ((PROMETHEUS_2, 30_000), (PROMETHEUS_3, 45_000)):
        got = _engine(store, semantics).instant_query("x[30s]", 60_000)
        assert isinstance(got, Matrix)
        assert got.series[0].timestamps_ms[0] == first


def test_lookback_is_left_open_in_3(store: MemoryStore) -> None:
    # the sample at 60 s, 5 m before 360 s: still there for 2.42, gone for 3.x
    assert _values(_engine(store, PROMETHEUS_2).instant_query("x", 360_000)) == [11.0]
    assert _values(_engine(store, PROMETHEUS_3).instant_query("x", 360_000)) == []
    assert _values(_engine(store, PROMETHEUS_3).instant_query("x", 359_999)) == [11.0]


def test_range_query_steps_equal_instant_queries_in_3(store: MemoryStore) -> None:
    engine = _engine(store, PROMETHEUS_3)
    query = "rate(x[30s]) + count_over_time(x[30s:15s])"
    matrix = engine.range_query(query, 30_000, 90_000, 15_000)
    assert matrix.series
    for series in matrix.series:
        for t, v in zip(series.timestamps_ms, series.values, strict=True):
            assert _values(engine.instant_query(query, t)) == [pytest.approx(v)]


@pytest.mark.parametrize(
    ("query", "v2", "v3"),
    [
        ('text{line=~"a.b"}', [], [1.0]),
        ('text{line=~"a.*"}', [2.0], [1.0, 2.0]),
        ('text{line!~"a.+"}', [1.0], []),
        ('label_replace(text, "t", "$1", "line", "a(.)b")', [1.0, 2.0], [1.0, 2.0]),
    ],
)
def test_regex_dot_matches_newline_in_3(
    store: MemoryStore, query: str, v2: list[float], v3: list[float]
) -> None:
    assert _values(_engine(store, PROMETHEUS_2).instant_query(query, 60_000)) == v2
    assert _values(_engine(store, PROMETHEUS_3).instant_query(query, 60_000)) == v3


def test_label_replace_dot_matches_newline_in_3(store: MemoryStore) -> None:
    query = 'label_replace(text, "t", "$1", "line", "a(.)b")'
    for semantics, expected in ((PROMETHEUS_2, set()), (PROMETHEUS_3, {"\n"})):
        got = _engine(store, semantics).instant_query(query, 60_000)
        assert isinstance(got, Vector)
        assert {dict(s.labels).get("t") for s in got.samples} - {None} == expected


@pytest.mark.parametrize(
    "query",
    [
        '{"my.metric"}',
        '{"my.metric", "label.x"="v"}',
        'sum by ("label.x") ({"my.metric"})',
        'rate({"my.metric"}[1m])',
        'x * on("job") group_left x',
    ],
)
def test_quoted_utf8_names_parse_in_3_only(store: MemoryStore, query: str) -> None:
    assert _engine(store, PROMETHEUS_3).instant_query(query, 60_000) is not None
    with pytest.raises(QueryParseError, match="quoted UTF-8 names need Prometheus 3"):
        _engine(store, PROMETHEUS_2).instant_query(query, 60_000)


def test_quoted_utf8_names_select_their_series(store: MemoryStore) -> None:
    engine = _engine(store, PROMETHEUS_3)
    got = engine.instant_query('sum by ("label.x") ({"my.metric"})', 60_000)
    assert isinstance(got, Vector)
    assert [(s.labels, s.value) for s in got.samples] == [((("label.x", "v"),), 5.0)]


def test_strings_elsewhere_are_not_names_for_2() -> None:
    for query in ('label_replace(x, "dst", "$1", "job", "(.*)")', 'x{job="a.b"}', 'count_values("a", x)'):
        parse(query, PROMETHEUS_2)


def test_smoothing_is_holt_winters_in_2_and_double_exponential_smoothing_in_3(store: MemoryStore) -> None:
    hw = _values(_engine(store, PROMETHEUS_2).instant_query("holt_winters(x[2m], 0.5, 0.5)", 60_000))
    des = _values(
        _engine(store, EXPERIMENTAL).instant_query("double_exponential_smoothing(x[2m], 0.5, 0.5)", 60_000)
    )
    assert des == hw and len(hw) == 1 and math.isfinite(hw[0])
    with pytest.raises(QueryParseError, match="holt_winters"):
        parse("holt_winters(x[1m], 0.5, 0.5)", EXPERIMENTAL)
    with pytest.raises(QueryParseError, match="not enabled"):
        parse("double_exponential_smoothing(x[1m], 0.5, 0.5)", PROMETHEUS_3)
    with pytest.raises(QueryParseError, match="double_exponential_smoothing"):
        parse("double_exponential_smoothing(x[1m], 0.5, 0.5)", PROMETHEUS_2)


@pytest.mark.parametrize(
    "function", ["histogram_avg", "histogram_stddev", "histogram_stdvar", "histogram_count"]
)
def test_native_histogram_functions_are_empty_over_floats_in_3(store: MemoryStore, function: str) -> None:
    assert _values(_engine(store, PROMETHEUS_3).instant_query(f"{function}(x)", 60_000)) == []
    if function != "histogram_count":  # not in 2.42
        with pytest.raises(QueryParseError, match="unknown function"):
            _engine(store, PROMETHEUS_2).instant_query(f"{function}(x)", 60_000)


def test_histogram_fraction_over_classic_buckets_in_3_only() -> None:
    store = MemoryStore()
    for le, count in (("0.1", 1.0), ("0.5", 3.0), ("+Inf", 4.0)):
        ref = store.series_ref(labels_from({"__name__": "h_bucket", "le": le, "job": "a"}))
        store.append([ref], [0], [count])
    query = "histogram_fraction(0, 0.3, h_bucket)"
    # 0.3 lies halfway into (0.1, 0.5]: 1 + (3 - 1) / 2 = 2 of 4 observations
    got = _engine(store, PROMETHEUS_3).instant_query(query, 0)
    assert isinstance(got, Vector) and [(s.labels, s.value) for s in got.samples] == [((("job", "a"),), 0.5)]
    assert _values(
        _engine(store, PROMETHEUS_3).instant_query("histogram_fraction(0.5, +Inf, h_bucket)", 0)
    ) == [0.25]
    assert _values(_engine(store, PROMETHEUS_2).instant_query(query, 0)) == []
