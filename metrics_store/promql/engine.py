"""The query engine: instant and range queries over a :class:`~metrics_store.base.Querier`.

Thread safety: an ``Engine`` holds only configuration and metrics; any number of threads may run queries on
one engine at once (each query gets its own evaluation context). The deadline is checked cooperatively
between nodes, around every store read and every few thousand steps of the per-step loops, so a single slow
``Querier.select`` call can overrun it.

Limits (defaults: :data:`metrics_store.config.DEFAULT_QUERY_LIMITS`, Prometheus'), each checked before the
work it bounds: the query text (``_guard``, before parsing), points per series of a range query (before the
step grid is built), the steps of every evaluation grid (``_cost``, before evaluation), samples read (after
each store read, prefetches included), the deadline (during evaluation). With a :class:`SampleBudget`
(the HTTP API's, ``max_inflight_samples``) a query also reserves its steps before evaluation and its
samples as they are read from a pool shared with the other queries in flight, waiting for room until its
deadline (``_budget``). A ``RecursionError`` anywhere in
evaluation becomes :class:`QueryTooComplexError`. Refusals are counted in ``paramedic_promql_query_errors``
by error type and in ``paramedic_promql_queries_refused`` by limit.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import promql_parser
from prometheus_client import REGISTRY, CollectorRegistry

from metrics_store.base import Querier
from metrics_store.config import DEFAULT_QUERY_LIMITS, QueryLimits
from metrics_store.promql._ast import parse
from metrics_store.promql._budget import Reservation, SampleBudget
from metrics_store.promql._context import EvalContext
from metrics_store.promql._cost import check_step_budget
from metrics_store.promql._evaluator import evaluate
from metrics_store.promql._metrics import QueryEngineMetrics
from metrics_store.promql._prefetch import prefetch
from metrics_store.promql._steps import EvalValue, RangeSteps, ScalarSteps, StringValue, VectorSteps
from metrics_store.promql.arrays import ArrayMatrix
from metrics_store.promql.errors import (
    QueryBusyError,
    QueryError,
    QueryExecutionError,
    QueryParseError,
    QueryTimeoutError,
    QueryTimeRangeError,
    QueryTooComplexError,
    QueryTooLargeError,
    TenantLimitError,
    TooManyPointsError,
    TooManySamplesError,
)
from metrics_store.promql.semantics import PROMETHEUS_3, Semantics
from metrics_store.promql.values import Matrix, QueryValue, Sample, Scalar, Series, String, Vector

__all__ = ["Engine", "SampleBudget", "static_type"]


def _unwrap(node: Any) -> Any:
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node


def static_type(node: Any) -> str:
    """Prometheus' value type name of a parsed expression's result, without evaluating it."""
    node = _unwrap(node)
    if isinstance(node, promql_parser.MatrixSelector | promql_parser.SubqueryExpr):
        return "range vector"
    if isinstance(node, promql_parser.StringLiteral):
        return "string"
    if isinstance(node, promql_parser.NumberLiteral):
        return "scalar"
    return "other"


_D = DEFAULT_QUERY_LIMITS


class Engine:
    def __init__(  # noqa: PLR0913 - the limits of metrics_store.query and injected I/O, keyword-only
        self,
        querier: Querier,
        *,
        lookback_delta_s: float = _D.lookback_delta_s,
        timeout_s: float = _D.timeout_s,
        max_samples: int = _D.max_samples,
        max_points_per_series: int = _D.max_points_per_series,
        monotonic: Callable[[], float] = time.monotonic,
        registry: CollectorRegistry = REGISTRY,
        budget: SampleBudget | None = None,
        semantics: Semantics = PROMETHEUS_3,
    ) -> None:
        self._querier = querier
        self._semantics = semantics
        self._budget = budget
        self._lookback_ms = round(lookback_delta_s * 1000)
        self._timeout_s = timeout_s
        self._max_samples = max_samples
        self._max_points = max_points_per_series
        self._monotonic = monotonic
        self._metrics = QueryEngineMetrics(registry)

    @property
    def semantics(self) -> Semantics:
        """Which Prometheus' PromQL this engine answers like (``promql.semantics``)."""
        return self._semantics

    @property
    def lookback_ms(self) -> int:
        """How far back an instant selector looks (``metrics_store.query.lookback_delta_s``), in ms."""
        return self._lookback_ms

    @classmethod
    def from_limits(
        cls,
        querier: Querier,
        limits: QueryLimits,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        registry: CollectorRegistry = REGISTRY,
        budget: SampleBudget | None = None,
        semantics: Semantics = PROMETHEUS_3,
    ) -> Engine:
        """An engine with the limits of a ``metrics_store.query`` config section and the PromQL rules of
        ``semantics`` (the ``promql`` section); its queries share ``budget`` (none: only ``max_samples`` per
        query bounds them)."""
        return cls(
            querier,
            lookback_delta_s=limits.lookback_delta_s,
            timeout_s=limits.timeout_s,
            max_samples=limits.max_samples,
            max_points_per_series=limits.max_points_per_series,
            monotonic=monotonic,
            registry=registry,
            budget=budget,
            semantics=semantics,
        )

    @property
    def querier(self) -> Querier:
        """The store this engine reads (to build a tenant's engine over it with :meth:`with_querier`)."""
        return self._querier

    def with_querier(self, querier: Querier, *, budget: SampleBudget | None = None) -> Engine:
        """The same engine (configuration and metrics) over another Querier (a tenant's
        :class:`~metrics_store.scoped.ScopedQuerier`), and another ``budget`` if given. Cheap (a shallow
        copy); nothing read by one query is kept in the engine, so engines over different queriers never
        share data (each query's reads live in its own evaluation context)."""
        other = copy.copy(self)
        other._querier = querier
        if budget is not None:
            other._budget = budget
        return other

    def instant_query(self, query: str, time_ms: int, *, timeout_s: float | None = None) -> QueryValue:
        """Evaluate ``query`` at ``time_ms``: a Scalar, String, Vector or (for a range selector) Matrix."""
        result = self._run("instant", query, time_ms, time_ms, 1, timeout_s=timeout_s, instant=True)
        assert not isinstance(result, ArrayMatrix)
        return result

    def range_query(
        self, query: str, start_ms: int, end_ms: int, step_ms: int, *, timeout_s: float | None = None
    ) -> Matrix:
        """Evaluate ``query`` at ``start_ms, start_ms + step_ms, ... <= end_ms``; the result is a Matrix
        sorted by label set (a scalar becomes one series with no labels). More than ``max_points_per_series``
        steps (``(end - start) // step``, as Prometheus counts) raise :class:`TooManyPointsError`."""
        return self.range_query_arrays(query, start_ms, end_ms, step_ms, timeout_s=timeout_s).to_matrix()

    def range_query_arrays(
        self, query: str, start_ms: int, end_ms: int, step_ms: int, *, timeout_s: float | None = None
    ) -> ArrayMatrix:
        """:meth:`range_query`'s result as numpy arrays (what the HTTP API renders JSON from)."""
        if step_ms <= 0:
            raise QueryExecutionError("zero or negative query resolution step widths are not accepted")
        if end_ms < start_ms:
            raise QueryExecutionError("end timestamp must not be before start time")
        result = self._run("range", query, start_ms, end_ms, step_ms, timeout_s=timeout_s, instant=False)
        assert isinstance(result, ArrayMatrix)
        return result

    def _run(
        self,
        kind: str,
        query: str,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        *,
        timeout_s: float | None,
        instant: bool,
    ) -> QueryValue | ArrayMatrix:
        self._metrics.queries.labels(kind).inc()
        began = self._monotonic()
        timeout = self._timeout_s if timeout_s is None else min(timeout_s, self._timeout_s)
        ctx: EvalContext | None = None
        reservation: Reservation | None = None
        try:
            for t_ms in (start_ms, end_ms):
                if not -_MAX_ABS_TIME_MS <= t_ms <= _MAX_ABS_TIME_MS:
                    raise QueryTimeRangeError(t_ms)
            if not instant and (end_ms - start_ms) // step_ms > self._max_points:
                raise TooManyPointsError(self._max_points)
            node = parse(query, self._semantics)
            if not instant and static_type(node) in ("range vector", "string"):
                raise QueryParseError(
                    f'invalid expression type "{static_type(node)}" for range query, '
                    "must be Scalar or instant Vector"
                )
            num_steps = (end_ms - start_ms) // step_ms + 1
            grid = (start_ms, start_ms + (num_steps - 1) * step_ms, num_steps)
            cost = check_step_budget(
                node, grid, start_ms, end_ms, self._max_samples, left_open=self._semantics.left_open
            )
            if self._budget is not None:
                reservation = self._budget.reservation(began + timeout)
                reservation.take(cost)
            steps = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
            ctx = EvalContext(
                querier=self._querier,
                steps_ms=steps,
                start_ms=start_ms,
                end_ms=end_ms,
                lookback_ms=self._lookback_ms,
                max_samples=self._max_samples,
                deadline=began + timeout,
                monotonic=self._monotonic,
                reserve=None if reservation is None else reservation.take,
                semantics=self._semantics,
            )
            try:
                prefetch(ctx, node)
                value = evaluate(ctx, node)
            except RecursionError as exc:
                raise QueryTooComplexError from exc
            return _to_instant(value, start_ms) if instant else _to_arrays(value, steps)
        except QueryError as exc:
            self._metrics.errors.labels(kind, exc.error_type).inc()
            reason = next((r for t, r in _REFUSAL_REASONS if isinstance(exc, t)), None)
            if reason is not None:
                self._metrics.refused.labels(reason).inc()
            raise
        finally:
            if reservation is not None:
                reservation.release()
            if ctx is not None:
                self._metrics.samples_loaded.inc(ctx.samples_loaded)
            self._metrics.duration.labels(kind).observe(self._monotonic() - began)


# Query times beyond this leave no room for offsets, ranges and lookback in int64 milliseconds.
_MAX_ABS_TIME_MS = 2**62

# Errors that are a limit refusing a query, and the ``reason`` label they are counted under.
_REFUSAL_REASONS: list[tuple[type[QueryError], str]] = [
    (QueryTooLargeError, "query_text"),
    (TooManyPointsError, "points_per_series"),
    (TooManySamplesError, "max_samples"),
    (QueryTimeoutError, "timeout"),
    (QueryBusyError, "inflight_samples"),
    (TenantLimitError, "tenant_inflight_samples"),
    (QueryTooComplexError, "recursion"),
]


def _to_instant(value: EvalValue, t_ms: int) -> QueryValue:
    if isinstance(value, ScalarSteps):
        return Scalar(t_ms, float(value.values[0]))
    if isinstance(value, StringValue):
        return String(t_ms, value.value)
    if isinstance(value, VectorSteps):
        return Vector(
            tuple(Sample(s.labels, t_ms, float(s.values[0])) for s in value.series if bool(s.present[0]))
        )
    out = []
    for rs in value.series:
        lo, hi = int(rs.lo[0]), int(rs.hi[0])
        if hi > lo:
            out.append(
                Series(rs.labels, tuple(rs.timestamps_ms[lo:hi].tolist()), tuple(rs.values[lo:hi].tolist()))
            )
    return Matrix(tuple(out))


def _to_arrays(value: EvalValue, steps: Any) -> ArrayMatrix:
    if isinstance(value, ScalarSteps):
        return ArrayMatrix.scalar(value.values, steps)
    if not isinstance(value, VectorSteps):
        raise QueryExecutionError(f"unexpected {type(value).__name__} result of a range query")
    return ArrayMatrix.of_steps(value, steps)


_ = RangeSteps  # the remaining EvalValue case of _to_instant
