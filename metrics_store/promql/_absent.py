"""absent, absent_over_time and timestamp: functions that look at their argument's syntax as well as its
value (Prometheus 2.42 ``createLabelsForAbsentFunction`` and the evaluator's ``timestamp`` special case)."""

from __future__ import annotations

from typing import Any

import numpy as np
import promql_parser

from metrics_store.model import METRIC_NAME, Labels, MatchOp
from metrics_store.promql._ast import selector_matchers
from metrics_store.promql._context import EvalContext
from metrics_store.promql._selectors import eval_vector_selector
from metrics_store.promql._steps import (
    EvalValue,
    RangeSteps,
    StepSeries,
    VectorSteps,
    drop_name,
    merge_same_labels,
)

__all__ = ["absent", "absent_over_time", "timestamp"]


def _absent_labels(arg: Any) -> Labels:
    if isinstance(arg, promql_parser.MatrixSelector):
        arg = arg.vector_selector
    if not isinstance(arg, promql_parser.VectorSelector):
        return ()
    labels: dict[str, str] = {}
    empty: list[str] = []
    for m in selector_matchers(arg):
        if m.name == METRIC_NAME:
            continue
        if m.op == MatchOp.EQ and m.name not in labels:
            if m.value:
                labels[m.name] = m.value
        else:
            empty.append(m.name)
    for name in empty:
        labels.pop(name, None)
    return tuple(sorted(labels.items()))


def _one(ctx: EvalContext, node: Any, missing: np.ndarray) -> VectorSteps:
    if not missing.any():
        return VectorSteps([])
    return VectorSteps([StepSeries(_absent_labels(node.args[0]), np.ones(ctx.num_steps), missing)])


def absent(ctx: EvalContext, node: Any, args: list[EvalValue]) -> EvalValue:
    (value,) = args
    if not isinstance(value, VectorSteps):
        raise TypeError("absent() takes an instant vector")
    present = np.zeros(ctx.num_steps, dtype=np.bool_)
    for s in value.series:
        present |= s.present
    return _one(ctx, node, ~present)


def absent_over_time(ctx: EvalContext, node: Any, args: list[EvalValue]) -> EvalValue:
    (value,) = args
    if not isinstance(value, RangeSteps):
        raise TypeError("absent_over_time() takes a range vector")
    present = np.zeros(ctx.num_steps, dtype=np.bool_)
    for rs in value.series:
        present |= rs.hi > rs.lo
    return _one(ctx, node, ~present)


def _unwrap(node: Any) -> Any:
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node


def timestamp(ctx: EvalContext, node: Any, args: list[EvalValue]) -> EvalValue:
    """The selected samples' own timestamps for a selector argument, else the evaluation time."""
    arg = _unwrap(node.args[0])
    if isinstance(arg, promql_parser.VectorSelector):
        times = eval_vector_selector(ctx, arg, sample_times=True)
        return VectorSteps(
            merge_same_labels(StepSeries(drop_name(s.labels), s.values, s.present) for s in times.series)
        )
    (value,) = args
    if not isinstance(value, VectorSteps):
        raise TypeError("timestamp() takes an instant vector")
    step_times = ctx.steps_ms.astype(np.float64) / 1000
    return VectorSteps(
        merge_same_labels(StepSeries(drop_name(s.labels), step_times, s.present) for s in value.series)
    )
