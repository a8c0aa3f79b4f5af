"""Per-series expressions evaluated slice by slice, so a long range's samples are never all held at once
(issue 18: a 24 h ``sum by (code) (rate(x[5m]))`` over 1k series read 5.8 M rows, then packed copies).

A selector, or a function of :data:`PER_SERIES` of a matrix selector, is evaluated on each slice of the
store's read (:meth:`EvalContext.select_slices`: the embedded store reads a few hundred series of a long
range at a time); only each slice's result is kept. The result is the one of the whole read: every series'
value depends on its own samples only (the batched paths are bit-identical to the per-series ones), and the
series are put back in the order the whole read gives them (by their selected label sets). This needs the
selector to name its metric (``__name__="x"``): then the results' label sets (without the name) are
distinct, so no two series merge and each maps back to the label set it came from.

Limits as for one read: ``max_samples`` applies to the samples read (over all slices) and to the samples a
range selector holds at one step, summed over the slices; the in-flight budget is reserved slice by slice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import promql_parser

from metrics_store.model import METRIC_NAME, Labels, Matcher, MatchOp
from metrics_store.promql._context import EvalContext
from metrics_store.promql._selectors import eval_matrix_selector, eval_vector_selector, selector_read
from metrics_store.promql._steps import I64, EvalValue, StepSeries, VectorSteps, drop_name

__all__ = ["PER_SERIES", "eval_sliced", "unwrap_matrix"]

# Functions of one range-vector argument whose value for a series depends on that series' samples only.
PER_SERIES = frozenset(
    {
        "rate",
        "increase",
        "delta",
        "irate",
        "idelta",
        "avg_over_time",
        "count_over_time",
        "last_over_time",
        "max_over_time",
        "min_over_time",
        "present_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "sum_over_time",
    }
)

Function = Callable[[EvalContext, list[EvalValue]], EvalValue]


def eval_sliced(ctx: EvalContext, node: Any, function: Function | None = None) -> VectorSteps | None:
    """``node`` (a vector selector, or ``function`` of a matrix selector ``node``) evaluated slice by
    slice; None when that does not apply (see the module doc): the caller evaluates it as usual."""
    if not ctx.reads_in_slices:  # another store: nothing to compute here
        return None
    matchers, start_ms, end_ms = selector_read(ctx, node)
    if not _names_metric(matchers) or not ctx.sliceable(matchers, start_ms, end_ms):
        return None
    out: list[StepSeries] = []
    # result's label set -> the selected one, for the selected label sets that do not start with the name
    # (a label that sorts before __name__); every other one is the name and the result's labels.
    origin: dict[Labels, Labels] = {}
    held: I64 | None = None  # matrix: samples held per step, all slices so far
    for data in ctx.select_slices(matchers, start_ms, end_ms):
        for sd in data:
            if not sd.labels or sd.labels[0][0] != METRIC_NAME:
                origin[sd.labels] = origin[drop_name(sd.labels)] = sd.labels
        if function is None:
            value: EvalValue = eval_vector_selector(ctx, node, data=data)
        else:
            ranges = eval_matrix_selector(ctx, node, data=data)
            per_step = ranges.held_per_step()
            held = per_step if held is None else held + per_step
            ctx.check_samples(int(held.max()) if len(held) else 0)
            value = function(ctx, [ranges])
            del ranges
        if not isinstance(value, VectorSteps):  # the functions of PER_SERIES return instant vectors
            raise TypeError(f"expected an instant vector, got {type(value).__name__}")
        out.extend(value.series)
        del data, value
    name = ((METRIC_NAME, _metric(matchers)),)

    def selected(s: StepSeries) -> Labels:
        found = origin.get(s.labels)
        if found is not None:
            return found
        return s.labels if s.labels and s.labels[0][0] == METRIC_NAME else name + s.labels

    out.sort(key=selected)
    return VectorSteps(out)


def _names_metric(matchers: list[Matcher]) -> bool:
    return any(m.name == METRIC_NAME and m.op is MatchOp.EQ for m in matchers)


def _metric(matchers: list[Matcher]) -> str:
    return next(m.value for m in matchers if m.name == METRIC_NAME and m.op is MatchOp.EQ)


def unwrap_matrix(node: Any) -> Any:
    """The matrix selector ``node`` is (through parentheses), else None."""
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node if isinstance(node, promql_parser.MatrixSelector) else None
