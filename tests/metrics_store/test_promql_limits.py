"""Query limits: the text guard before the native parser, the step budget, points per series, samples loaded
while prefetching, recursion, and the refusal metrics — each with its exact error type and message."""

from __future__ import annotations

import sys
import threading
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml
from prometheus_client import CollectorRegistry

from dashboard.views_local import APP_CHARTS
from metrics_store.config import DEFAULT_QUERY_LIMITS, QueryLimits
from metrics_store.memory import MemoryStore
from metrics_store.model import Labels, Matcher, MatchOp, SeriesData, labels_from
from metrics_store.promql import (
    Engine,
    Matrix,
    QueryParseError,
    QueryTimeRangeError,
    QueryTooComplexError,
    QueryTooLargeError,
    TooManyPointsError,
    TooManySamplesError,
    Vector,
    check_query_text,
    parse,
)
from metrics_store.promql import _evaluator as evaluator
from metrics_store.promql._context import EvalContext
from metrics_store.promql._cost import check_step_budget, subquery_grid
from metrics_store.promql._guard import MAX_NESTING_DEPTH, MAX_OPERATORS, MAX_QUERY_BYTES

PACKS = sorted((Path(__file__).resolve().parents[2] / "alerting" / "rules" / "packs").glob("*.yaml"))


def _store(names: Sequence[str] = ("m",), n_series: int = 3, n_samples: int = 100) -> MemoryStore:
    store = MemoryStore()
    for name in names:
        for i in range(n_series):
            ref = store.series_ref(labels_from({"__name__": name, "i": str(i)}))
            store.append([ref] * n_samples, [t * 15_000 for t in range(n_samples)], [1.0] * n_samples)
    return store


class _CountingQuerier:
    """A Querier that counts its ``select`` calls."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner
        self.selects = 0

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        self.selects += 1
        return self.inner.select(matchers, start_ms, end_ms)

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        return self.inner.series(matchers, start_ms, end_ms)


def _engine(querier: object | None = None, **kw: int | float) -> tuple[Engine, CollectorRegistry]:
    registry = CollectorRegistry()
    return Engine(querier or _store(), registry=registry, **kw), registry  # type: ignore[arg-type]


# --- the text guard ----------------------------------------------------------------------------------------


def test_defaults_are_prometheus_defaults() -> None:
    prometheus = QueryLimits(
        timeout_s=120,
        max_samples=50_000_000,
        lookback_delta_s=300,
        max_points_per_series=11_000,
        max_concurrency=20,
    )
    assert prometheus == DEFAULT_QUERY_LIMITS


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("-".join(["1"] * 5000), f"parse error: expression has more than {MAX_OPERATORS} operators"),
        ("(" * 10_000 + "1" + ")" * 10_000, f"parse error: expression nested more than {MAX_NESTING_DEPTH} "),
        ("(" * 10_000, f"parse error: expression nested more than {MAX_NESTING_DEPTH} levels deep"),
        ("-" * 300 + "1", f"parse error: expression has more than {MAX_OPERATORS} operators"),
        (" and ".join(["x"] * 300), f"parse error: expression has more than {MAX_OPERATORS} operators"),
        (
            "x" * (MAX_QUERY_BYTES + 1),
            f"parse error: query is {MAX_QUERY_BYTES + 1} bytes long, the limit is",
        ),
        ("é" * (MAX_QUERY_BYTES // 2 + 1), "parse error: query is 65538 bytes long"),  # bytes, not characters
    ],
    ids=["5000-term chain", "10000 parens", "unbalanced", "unary", "and-chain", "length", "utf8 length"],
)
def test_texts_over_a_limit_are_refused_before_parsing(query: str, message: str) -> None:
    with pytest.raises(QueryTooLargeError) as info:
        parse(query)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, QueryParseError)
    assert info.value.error_type == "bad_data" and info.value.http_status == 400


def test_texts_at_the_limits_parse() -> None:
    parse("(" * MAX_NESTING_DEPTH + "1" + ")" * MAX_NESTING_DEPTH)
    parse(" - ".join(["1"] * (MAX_OPERATORS + 1)))
    parse('x{a="' + "b" * (MAX_QUERY_BYTES - 8) + '"}')


@pytest.mark.parametrize(
    "query",
    [
        'x{a="' + "(" * 500 + '"}',  # double-quoted
        "x{a='" + "((\\'(" * 100 + "'}",  # single-quoted with escaped quotes
        'x{a="\\"' + "(" * 500 + '"}',  # an escaped double quote does not end the string
        "x{a=`" + "(" * 500 + "`}",  # a raw string
        "x # " + "(" * 500 + "\n + 1",  # a comment
        "x{" + ",".join(f'l{i}!="v"' for i in range(300)) + "}",  # matchers are not operators
        'label_replace(x, "a", "' + "-+*/" * 100 + '", "b", "(.*)")',
    ],
    ids=["dq", "sq-escapes", "dq-escaped-quote", "raw", "comment", "matchers", "string-args"],
)
def test_strings_comments_and_matchers_are_not_counted(query: str) -> None:
    check_query_text(query)
    parse(query)


def test_rule_packs_and_dashboard_queries_are_far_below_the_limits() -> None:
    exprs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                exprs.append(value) if key == "expr" and isinstance(value, str) else walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for pack in PACKS:
        walk(yaml.safe_load(pack.read_text()))
    exprs.extend(q for chart in APP_CHARTS for q in chart.queries("checkout"))
    assert len(exprs) > 20
    for expr in exprs:
        parse(expr)
        check_query_text(expr * 4)  # even four times as long


def test_the_largest_accepted_trees_parse_and_evaluate_in_a_worker_thread() -> None:
    """A thread may have a smaller stack than the main thread: the largest trees the guard lets through
    parse (native recursion) and evaluate (Python recursion) there."""
    depth, ops = MAX_NESTING_DEPTH - 1, MAX_OPERATORS
    queries = [
        "abs(" * depth + " - ".join(["vector(1)"] * (ops + 1)) + ")" * depth,
        "sum(" * depth + " ^ ".join(["m"] * (ops + 1)) + ")" * depth,
        "abs(" * depth + "-" * ops + "vector(1)" + ")" * depth,
        "max_over_time(" * 30 + "vector(1)" + "[5m:1m])" * 30,
    ]
    errors: list[BaseException] = []

    def run() -> None:
        engine, _ = _engine()
        for q in queries:
            try:
                engine.instant_query(q, 1_000_000)
            except BaseException as exc:
                errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert not thread.is_alive() and errors == []


# --- the step budget ---------------------------------------------------------------------------------------


def test_a_huge_subquery_grid_is_refused_before_allocation() -> None:
    engine, registry = _engine()
    tracemalloc.start()
    try:
        with pytest.raises(TooManySamplesError, match=r"^query processing would load too many samples"):
            engine.instant_query("max_over_time(vector(1)[7d:1ms])", 10**12)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000  # the grid alone would be 6e8 * 8 bytes
    assert registry.get_sample_value("paramedic_promql_queries_refused_total", {"reason": "max_samples"}) == 1


@pytest.mark.parametrize(
    "query",
    [
        "max_over_time(vector(1)[1h:1m])",
        "max_over_time(vector(1)[1h:7m] offset 13m)",
        "max_over_time(vector(1)[1h:1m] @ 100)",
        "max_over_time(max_over_time(vector(1)[10m:1m])[1h:5m])",
        "max_over_time(vector(1)[1ms:7d])",
        "max_over_time(m[1h]) + timestamp(vector(1))",
    ],
)
def test_step_budget_counts_the_grids_the_evaluator_builds(
    query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every evaluated node holds at least one value per step of its grid: the budget sums exactly those."""
    seen: list[int] = []
    real = evaluator.evaluate

    def counting(ctx: EvalContext, node: object) -> object:
        seen.append(ctx.num_steps)
        return real(ctx, node)

    monkeypatch.setattr(evaluator, "evaluate", counting)
    monkeypatch.setattr("metrics_store.promql.engine.evaluate", counting)
    start, end, step = 600_000, 4_200_000, 60_000
    n = (end - start) // step + 1
    budget = check_step_budget(parse(query), (start, end, n), start, end, 10**12)
    Engine(MemoryStore(), registry=CollectorRegistry()).range_query(query, start, end, step)
    assert budget == sum(seen)


def test_subquery_grid_matches_prometheus_alignment() -> None:
    node = parse("x[1h:7m] offset 13m")
    start, last, count = subquery_grid(node, (600_000, 900_000, 6), 600_000, 900_000)
    assert start % 420_000 == 0 and start >= 600_000 - 780_000 - 3_600_000
    assert last <= 900_000 - 780_000 and count == (last - start) // 420_000 + 1


def test_a_budget_over_max_samples_across_nodes_is_refused() -> None:
    engine, _ = _engine(max_samples=50_000)
    query = " + ".join(["vector(1)"] * 10)  # 19 nodes on a 3,601-step grid: 68,419 > 50,000
    with pytest.raises(TooManySamplesError):
        engine.range_query(query, 0, 3_600_000, 1000)
    assert isinstance(engine.range_query("vector(1)", 0, 3_600_000, 1000), Matrix)


# --- points per series -------------------------------------------------------------------------------------


def test_range_query_points_per_series_is_capped_in_the_engine() -> None:
    engine, registry = _engine()
    with pytest.raises(TooManyPointsError) as info:
        engine.range_query("1", 0, 11_001_000, 1000)
    assert str(info.value) == (
        "exceeded maximum resolution of 11,000 points per timeseries. "
        "Try decreasing the query resolution (?step=XX)"
    )
    assert info.value.error_type == "bad_data" and info.value.http_status == 400
    assert len(engine.range_query("1", 0, 11_000_000, 1000).series[0].timestamps_ms) == 11_001
    labels = {"reason": "points_per_series"}
    assert registry.get_sample_value("paramedic_promql_queries_refused_total", labels) == 1
    small, _ = _engine(max_points_per_series=10)
    with pytest.raises(TooManyPointsError, match="maximum resolution of 10 points"):
        small.range_query("1", 0, 11_000, 1000)


def test_from_limits_takes_every_limit() -> None:
    limits = QueryLimits(timeout_s=1, max_samples=10, lookback_delta_s=1, max_points_per_series=5)
    engine = Engine.from_limits(_store(), limits, registry=CollectorRegistry())
    with pytest.raises(TooManyPointsError):
        engine.range_query("1", 0, 6000, 1000)
    with pytest.raises(TooManySamplesError):
        engine.instant_query("m[1h]", 1_000_000)
    # lookback 1 s: the last sample (t = 1,485 s) is not seen 2 s later
    assert engine.instant_query("m", 1_487_000) == Vector(())


# --- samples loaded while prefetching ----------------------------------------------------------------------


def test_prefetched_samples_count_against_max_samples_before_evaluation() -> None:
    querier = _CountingQuerier(_store(n_series=3, n_samples=100))  # 300 samples of m
    engine, registry = _engine(querier, max_samples=250)
    with pytest.raises(TooManySamplesError):  # a step budget of 7: only the prefetch can refuse
        engine.instant_query('sum(sum_over_time(m[1h])) / sum(sum_over_time(m{i="0"}[1h]))', 1_485_000)
    assert querier.selects == 1  # the prefetch read, and nothing after it
    assert registry.get_sample_value("paramedic_promql_queries_refused_total", {"reason": "max_samples"}) == 1


def test_prefetches_add_up() -> None:
    querier = _CountingQuerier(_store(names=("a", "b"), n_series=2, n_samples=100))  # 200 samples each
    engine, _ = _engine(querier, max_samples=300)
    query = " + ".join(f"sum(sum_over_time({s}[1h]))" for s in ("a", 'a{i="0"}', "b", 'b{i="0"}'))
    with pytest.raises(TooManySamplesError):
        engine.instant_query(query, 1_485_000)
    assert querier.selects == 2  # a (200), then b (400 > 300): refused before any select of evaluation
    wide, _ = _engine(_store(names=("a", "b"), n_series=2, n_samples=100), max_samples=400)
    assert isinstance(wide.instant_query(query, 1_485_000), Vector)


def test_context_prefetch_refuses_past_max_samples() -> None:
    ctx = EvalContext(
        querier=_store(),
        steps_ms=np.array([0], dtype=np.int64),
        start_ms=0,
        end_ms=0,
        lookback_ms=0,
        max_samples=299,
        deadline=float("inf"),
        monotonic=lambda: 0.0,
    )
    with pytest.raises(TooManySamplesError):
        ctx.prefetch(frozenset({Matcher("__name__", MatchOp.EQ, "m")}), 0, 10**9)
    assert ctx.prefetched == 300


# --- recursion ---------------------------------------------------------------------------------------------


@pytest.fixture
def low_recursion_limit() -> Iterator[Callable[[int], None]]:
    old = sys.getrecursionlimit()
    yield sys.setrecursionlimit
    sys.setrecursionlimit(old)


def test_recursion_error_in_evaluation_is_a_query_error(low_recursion_limit: Callable[[int], None]) -> None:
    engine, registry = _engine()
    query = "abs(" * 60 + "vector(1)" + ")" * 60
    low_recursion_limit(len(_frames()) + 60)
    with pytest.raises(QueryTooComplexError, match="query is too complex to evaluate") as info:
        engine.instant_query(query, 1000)
    assert isinstance(info.value.__cause__, RecursionError)
    assert info.value.error_type == "execution" and info.value.http_status == 422
    assert registry.get_sample_value("paramedic_promql_queries_refused_total", {"reason": "recursion"}) == 1


def _frames() -> list[object]:
    frame, out = sys._getframe(), []
    while frame is not None:
        out.append(frame)
        frame = frame.f_back  # type: ignore[assignment]
    return out


# --- query times -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("time_ms", [2**62 + 1, -(2**62) - 1, 10**303])
def test_query_times_beyond_int64_arithmetic_are_bad_data(time_ms: int) -> None:
    engine, _ = _engine()
    with pytest.raises(QueryTimeRangeError, match=r"^query time -?[0-9.e+]+ s is out of range$") as info:
        engine.instant_query("1", time_ms)
    assert info.value.error_type == "bad_data" and info.value.http_status == 400
    with pytest.raises(QueryTimeRangeError):
        engine.range_query("1", min(time_ms, 0), max(time_ms, 0), 2**62)
    assert isinstance(engine.instant_query("x offset -290y", 2**62), Vector)
