"""The function table: PromQL function name -> implementation.

An implementation receives the evaluation context and its already-evaluated arguments (types checked by the
parser) and returns a value for all steps. To add a function, write it and add one line to ``FUNCTIONS``;
the evaluator never changes. A name the parser knows but this table lacks is answered with
"function X is not supported yet"."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from metrics_store.promql import _over_time, _rate
from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import EvalValue, ScalarSteps, StepSeries, VectorSteps

__all__ = ["FUNCTIONS", "FunctionImpl"]

FunctionImpl = Callable[[EvalContext, list[EvalValue]], EvalValue]


def _time(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return ScalarSteps(ctx.steps_ms.astype(np.float64) / 1000)


def _vector(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    (s,) = args
    if not isinstance(s, ScalarSteps):
        raise TypeError("vector() takes a scalar")
    return VectorSteps([StepSeries((), s.values, np.ones(ctx.num_steps, dtype=np.bool_))])


def _scalar(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    (v,) = args
    if not isinstance(v, VectorSteps):
        raise TypeError("scalar() takes an instant vector")
    count = np.zeros(ctx.num_steps, dtype=np.int64)
    value = np.full(ctx.num_steps, np.nan)
    for s in v.series:
        count += s.present
        value = np.where(s.present, s.values, value)
    return ScalarSteps(np.where(count == 1, value, np.nan))


FUNCTIONS: dict[str, FunctionImpl] = {
    "avg_over_time": _over_time.avg_over_time,
    "count_over_time": _over_time.count_over_time,
    "delta": _rate.delta,
    "idelta": _rate.idelta,
    "increase": _rate.increase,
    "irate": _rate.irate,
    "last_over_time": _over_time.last_over_time,
    "max_over_time": _over_time.max_over_time,
    "min_over_time": _over_time.min_over_time,
    "present_over_time": _over_time.present_over_time,
    "quantile_over_time": _over_time.quantile_over_time,
    "rate": _rate.rate,
    "scalar": _scalar,
    "stddev_over_time": _over_time.stddev_over_time,
    "stdvar_over_time": _over_time.stdvar_over_time,
    "sum_over_time": _over_time.sum_over_time,
    "time": _time,
    "vector": _vector,
}
