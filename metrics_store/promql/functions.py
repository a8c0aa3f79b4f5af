"""The function tables: PromQL function name -> implementation (every function of Prometheus 2.42, and 3.x's
native-histogram functions; see ``semantics``).

An implementation in ``FUNCTIONS`` receives the evaluation context and its already-evaluated arguments
(types checked by the parser) and returns a value for all steps. ``NODE_FUNCTIONS`` also receive the call's
AST node (absent() takes labels from its argument's matchers; timestamp() reads a selector's sample times).
To add a function, write it and add one line to a table; the evaluator never changes. Names the parser knows
that Prometheus 2.42 does not have are rejected as unknown functions (as 2.42's parser does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from metrics_store.promql import _absent, _elementwise, _histogram, _labels, _over_time, _rate, _trend
from metrics_store.promql._ast import HOLT_WINTERS_AS_PARSED
from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import EvalValue, ScalarSteps, StepSeries, VectorSteps

__all__ = ["FUNCTIONS", "NODE_FUNCTIONS", "NOT_IN_PROMETHEUS_2_42", "FunctionImpl", "NodeFunctionImpl"]

FunctionImpl = Callable[[EvalContext, list[EvalValue]], EvalValue]
NodeFunctionImpl = Callable[[EvalContext, Any, list[EvalValue]], EvalValue]


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
    **_elementwise.MATH_FUNCTIONS,
    **_elementwise.DATE_FUNCTIONS,
    "avg_over_time": _over_time.avg_over_time,
    "changes": _trend.changes,
    "clamp": _elementwise.clamp,
    "clamp_max": _elementwise.clamp_max,
    "clamp_min": _elementwise.clamp_min,
    "count_over_time": _over_time.count_over_time,
    "delta": _rate.delta,
    "deriv": _trend.deriv,
    "histogram_quantile": _histogram.histogram_quantile,
    # 2.42's holt_winters, renamed for the parser (see _ast); 3.x's double_exponential_smoothing
    HOLT_WINTERS_AS_PARSED: _trend.holt_winters,
    # native-histogram functions: empty over float samples, the only kind stored (see ``semantics``)
    "histogram_avg": _histogram.native_only,  # 3.x
    "histogram_count": _histogram.native_only,
    "histogram_fraction": _histogram.histogram_fraction,  # 3.x: classic buckets too
    "histogram_stddev": _histogram.native_only,  # 3.x
    "histogram_stdvar": _histogram.native_only,  # 3.x
    "histogram_sum": _histogram.native_only,
    "idelta": _rate.idelta,
    "increase": _rate.increase,
    "irate": _rate.irate,
    "label_join": _labels.label_join,
    "label_replace": _labels.label_replace,
    "last_over_time": _over_time.last_over_time,
    "max_over_time": _over_time.max_over_time,
    "min_over_time": _over_time.min_over_time,
    "pi": _elementwise.pi,
    "predict_linear": _trend.predict_linear,
    "present_over_time": _over_time.present_over_time,
    "quantile_over_time": _over_time.quantile_over_time,
    "rate": _rate.rate,
    "resets": _trend.resets,
    "round": _elementwise.round_,
    "scalar": _scalar,
    "sort": _labels.sort,
    "sort_desc": _labels.sort_desc,
    "stddev_over_time": _over_time.stddev_over_time,
    "stdvar_over_time": _over_time.stdvar_over_time,
    "sum_over_time": _over_time.sum_over_time,
    "time": _time,
    "vector": _vector,
}

NODE_FUNCTIONS: dict[str, NodeFunctionImpl] = {
    "absent": _absent.absent,
    "absent_over_time": _absent.absent_over_time,
    "timestamp": _absent.timestamp,
}

# Known to promql_parser (newer Prometheus) but not to Prometheus 2.42: unknown functions under 2.42
# semantics. Under 3.x semantics the experimental ones are refused at parse time unless enabled
# (``_ast.EXPERIMENTAL_FUNCTIONS``) and, enabled, are not implemented yet (UnsupportedError) but for
# double_exponential_smoothing.
NOT_IN_PROMETHEUS_2_42 = frozenset(
    {
        "mad_over_time",
        "sort_by_label",
        "sort_by_label_desc",
        "info",
        "limitk",
        "limit_ratio",
        "histogram_avg",
        "histogram_stddev",
        "histogram_stdvar",
    }
)
