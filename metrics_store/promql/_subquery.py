"""Subqueries ``expr[range:step] offset d @ t``: the inner expression is evaluated once, at every multiple of
``step`` (default: the 1 m evaluation interval) from the earliest window start to the latest reference time;
each outer step then sees the inner points with ``ref - range <= t <= ref`` (Prometheus 2.42) or
``ref - range < t <= ref`` (3.x, left-open: the first inner step is the first multiple after the start)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from metrics_store.promql._ast import duration_ms
from metrics_store.promql._context import EvalContext
from metrics_store.promql._selectors import reference_times
from metrics_store.promql._steps import EvalValue, RangeSeries, RangeSteps, VectorSteps, type_name
from metrics_store.promql.errors import QueryExecutionError

__all__ = ["DEFAULT_STEP_MS", "eval_subquery"]

DEFAULT_STEP_MS = 60_000  # Prometheus' global evaluation_interval default


def eval_subquery(
    ctx: EvalContext, node: Any, evaluate: Callable[[EvalContext, Any], EvalValue]
) -> RangeSteps:
    range_ms = duration_ms(node.range)
    step_ms = duration_ms(node.step) or DEFAULT_STEP_MS
    ref = reference_times(ctx, node.at, node.offset)
    first = int(ref.min()) - range_ms
    left_open = ctx.semantics.left_open
    start = step_ms * (first // step_ms)
    if start < first or (left_open and start == first):
        start += step_ms
    inner_steps = np.arange(start, int(ref.max()) + 1, step_ms, dtype=np.int64)
    if not len(inner_steps):  # no multiple of step inside any window (e.g. [1ms:7d]): nothing to evaluate
        return RangeSteps([], range_ms, ref)
    child = dataclasses.replace(ctx, steps_ms=inner_steps, samples_loaded=0)
    value = evaluate(child, node.expr)
    ctx.samples_loaded += child.samples_loaded
    if not isinstance(value, VectorSteps):
        raise QueryExecutionError(f"subquery is only allowed on instant vector, got {type_name(value)}")
    starts = ref - np.int64(range_ms)
    out = []
    for s in value.series:
        ts, vals = inner_steps[s.present], s.values[s.present]
        lo = np.searchsorted(ts, starts, side="right" if left_open else "left")
        hi = np.searchsorted(ts, ref, side="right")
        if (hi > lo).any():
            out.append(RangeSeries(s.labels, ts, vals, lo, hi))
    ctx.check_deadline()
    return RangeSteps(out, range_ms, ref)
