"""Range-vector functions that walk each window in sample order — deriv, predict_linear (Prometheus 2.42
``linearRegression`` with Kahan-Neumaier sums), holt_winters, resets, changes."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import (
    F64,
    EvalValue,
    RangeSteps,
    ScalarSteps,
    StepSeries,
    VectorSteps,
    drop_name,
    merge_same_labels,
)
from metrics_store.promql.errors import QueryExecutionError

__all__ = ["changes", "deriv", "holt_winters", "predict_linear", "resets"]

# fn(timestamps, values, step index) -> value, or None to leave the step out
WindowFn = Callable[[list[int], list[float], int], float | None]


def _range(value: EvalValue) -> RangeSteps:
    if not isinstance(value, RangeSteps):
        raise TypeError(f"expected a range vector, got {type(value).__name__}")
    return value


def _scalar(value: EvalValue) -> F64:
    if not isinstance(value, ScalarSteps):
        raise TypeError(f"expected a scalar, got {type(value).__name__}")
    return value.values


def _per_window(ctx: EvalContext, steps: RangeSteps, fn: WindowFn, min_samples: int) -> VectorSteps:
    out = []
    for rs in steps.series:
        values = np.full(len(rs.lo), np.nan)
        present = np.zeros(len(rs.lo), dtype=np.bool_)
        ts_all, vals_all = rs.timestamps_ms.tolist(), rs.values.tolist()
        for i, (lo, hi) in enumerate(zip(rs.lo.tolist(), rs.hi.tolist(), strict=True)):
            if hi - lo < min_samples:
                continue
            v = fn(ts_all[lo:hi], vals_all[lo:hi], i)
            if v is not None:
                values[i], present[i] = v, True
        if present.any():
            out.append(StepSeries(drop_name(rs.labels), values, present))
        ctx.check_deadline()
    return VectorSteps(merge_same_labels(out))


def _kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    t = total + inc
    if abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


def linear_regression(ts: list[int], vs: list[float], intercept_ms: int) -> tuple[float, float]:
    n = 0.0
    sum_x = c_x = sum_y = c_y = sum_xy = c_xy = sum_x2 = c_x2 = 0.0
    init_y = vs[0]
    const_y = True
    for i, (t, v) in enumerate(zip(ts, vs, strict=True)):
        if const_y and i > 0 and v != init_y:
            const_y = False
        n += 1.0
        x = (t - intercept_ms) / 1e3
        sum_x, c_x = _kahan_inc(x, sum_x, c_x)
        sum_y, c_y = _kahan_inc(v, sum_y, c_y)
        sum_xy, c_xy = _kahan_inc(x * v, sum_xy, c_xy)
        sum_x2, c_x2 = _kahan_inc(x * x, sum_x2, c_x2)
    if const_y:
        if math.isinf(init_y):
            return math.nan, math.nan
        return 0.0, init_y
    sum_x, sum_y, sum_xy, sum_x2 = sum_x + c_x, sum_y + c_y, sum_xy + c_xy, sum_x2 + c_x2
    cov_xy = sum_xy - sum_x * sum_y / n
    var_x = sum_x2 - sum_x * sum_x / n
    try:
        slope = cov_xy / var_x
    except ZeroDivisionError:
        slope = math.nan if cov_xy == 0 or math.isnan(cov_xy) else math.copysign(math.inf, cov_xy)
    return slope, sum_y / n - slope * sum_x / n


def deriv(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _per_window(ctx, _range(args[0]), lambda ts, vs, i: linear_regression(ts, vs, ts[0])[0], 2)


def predict_linear(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    duration = _scalar(args[1])
    steps = ctx.steps_ms.tolist()

    def fn(ts: list[int], vs: list[float], i: int) -> float:
        slope, intercept = linear_regression(ts, vs, steps[i])
        return float(slope * duration[i] + intercept)

    return _per_window(ctx, _range(args[0]), fn, 2)


def holt_winters(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    sf_all, tf_all = _scalar(args[1]), _scalar(args[2])
    for sf, tf in zip(sf_all.tolist(), tf_all.tolist(), strict=True):
        if not 0 < sf < 1:
            raise QueryExecutionError(f"invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:f}")
        if not 0 < tf < 1:
            raise QueryExecutionError(f"invalid trend factor. Expected: 0 < tf < 1, got: {tf:f}")

    def fn(ts: list[int], vs: list[float], i: int) -> float:
        sf, tf = float(sf_all[i]), float(tf_all[i])
        s0, s1, b = 0.0, vs[0], vs[1] - vs[0]
        for j in range(1, len(vs)):
            x = sf * vs[j]
            if j > 1:
                b = tf * (s1 - s0) + (1 - tf) * b
            y = (1 - sf) * (s1 + b)
            s0, s1 = s1, x + y
        return s1

    return _per_window(ctx, _range(args[0]), fn, 2)


def _count_pairs(ctx: EvalContext, steps: RangeSteps, pair: Callable[[F64, F64], np.ndarray]) -> VectorSteps:
    out = []
    for rs in steps.series:
        with np.errstate(invalid="ignore"):
            hits = pair(rs.values[:-1], rs.values[1:]).astype(np.float64)
        cum = np.concatenate([[0.0, 0.0], np.cumsum(hits)])  # cum[j + 1] = hits among pairs ending <= j
        present = rs.hi > rs.lo
        last = np.where(present, rs.hi - 1, 0)
        values = cum[last + 1] - cum[np.where(present, rs.lo, 0) + 1]
        out.append(StepSeries(drop_name(rs.labels), np.where(present, values, 0.0), present))
        ctx.check_deadline()
    return VectorSteps(merge_same_labels(out))


def resets(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _count_pairs(ctx, _range(args[0]), lambda prev, cur: cur < prev)


def changes(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _count_pairs(
        ctx, _range(args[0]), lambda prev, cur: (cur != prev) & ~(np.isnan(cur) & np.isnan(prev))
    )
