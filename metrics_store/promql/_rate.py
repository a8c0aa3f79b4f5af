"""rate, increase, delta, irate, idelta — ported from Prometheus 2.42 ``promql/functions.go``
(``extrapolatedRate`` and ``instantValue``), vectorised over steps."""

from __future__ import annotations

import numpy as np

from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import (
    F64,
    EvalValue,
    RangeSeries,
    RangeSteps,
    StepSeries,
    VectorSteps,
    drop_name,
    merge_same_labels,
)

__all__ = ["delta", "idelta", "increase", "irate", "rate"]


def _range_seconds(range_ms: int) -> float:
    # Go's Duration.Seconds(): float64(sec) + float64(nsec)/1e9, bit-for-bit.
    return float(range_ms // 1000) + float((range_ms % 1000) * 1_000_000) / 1e9


def _counter_corrections(vals: F64, first: np.ndarray, last: np.ndarray, base: F64, ok: np.ndarray) -> F64:
    """Add the value before every counter reset inside each window, in sample order (as Prometheus)."""
    with np.errstate(invalid="ignore"):
        drops = np.flatnonzero(vals[1:] < vals[:-1]) + 1  # index j: vals[j] < vals[j-1]
    if len(drops) == 0:
        return base
    out = base.copy()
    a = np.searchsorted(drops, first + 1, side="left")
    b = np.searchsorted(drops, last, side="right")
    for step in np.flatnonzero(ok & (b > a)):
        acc = float(out[step])
        for j in drops[a[step] : b[step]]:
            acc += float(vals[j - 1])
        out[step] = acc
    return out


def _extrapolated(rs: RangeSeries, steps: RangeSteps, is_counter: bool, is_rate: bool) -> StepSeries | None:
    ts, vals = rs.timestamps_ms, rs.values
    n = rs.hi - rs.lo
    ok = n >= 2
    if not ok.any():
        return None
    first = np.where(ok, rs.lo, 0)
    last = np.where(ok, rs.hi - 1, 0)
    first_v, last_v = vals[first], vals[last]
    with np.errstate(all="ignore"):
        result = last_v - first_v
        if is_counter:
            result = _counter_corrections(vals, first, last, result, ok)
        range_end = steps.range_end_ms
        range_start = range_end - np.int64(steps.range_ms)
        to_start = (ts[first] - range_start).astype(np.float64) / 1000
        to_end = (range_end - ts[last]).astype(np.float64) / 1000
        sampled = (ts[last] - ts[first]).astype(np.float64) / 1000
        average = sampled / np.where(ok, n - 1, 1).astype(np.float64)
        if is_counter:
            to_zero = sampled * (first_v / result)
            use_zero = (result > 0) & (first_v >= 0) & (to_zero < to_start)
            to_start = np.where(use_zero, to_zero, to_start)
        threshold = average * 1.1
        interval = sampled + np.where(to_start < threshold, to_start, average / 2)
        interval = interval + np.where(to_end < threshold, to_end, average / 2)
        factor = interval / sampled
        if is_rate:
            factor = factor / _range_seconds(steps.range_ms)
        result = result * factor
    return StepSeries(drop_name(rs.labels), result, ok)


def _instant(rs: RangeSeries, is_rate: bool) -> StepSeries | None:
    ts, vals = rs.timestamps_ms, rs.values
    ok = (rs.hi - rs.lo) >= 2
    if not ok.any():
        return None
    last = np.where(ok, rs.hi - 1, 1)
    prev = last - 1
    interval = ts[last] - ts[prev]
    ok = ok & (interval != 0)
    with np.errstate(all="ignore"):
        if is_rate:
            result = np.where(vals[last] < vals[prev], vals[last], vals[last] - vals[prev])
            result = result / (interval.astype(np.float64) / 1000)
        else:
            result = vals[last] - vals[prev]
    return StepSeries(drop_name(rs.labels), result, ok)


def _over_series(ctx: EvalContext, steps: RangeSteps, is_counter: bool, is_rate: bool) -> VectorSteps:
    out: list[StepSeries] = []
    for rs in steps.series:
        s = _extrapolated(rs, steps, is_counter, is_rate)
        if s is not None:
            out.append(s)
        ctx.check_deadline()
    return VectorSteps(merge_same_labels(out))


def _arg(args: list[EvalValue]) -> RangeSteps:
    value = args[0]
    if not isinstance(value, RangeSteps):  # the parser type-checks; this guards the table
        raise TypeError(f"expected a range vector, got {type(value).__name__}")
    return value


def rate(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _over_series(ctx, _arg(args), is_counter=True, is_rate=True)


def increase(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _over_series(ctx, _arg(args), is_counter=True, is_rate=False)


def delta(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _over_series(ctx, _arg(args), is_counter=False, is_rate=False)


def _instant_family(ctx: EvalContext, args: list[EvalValue], is_rate: bool) -> VectorSteps:
    out: list[StepSeries] = []
    for rs in _arg(args).series:
        s = _instant(rs, is_rate)
        if s is not None:
            out.append(s)
        ctx.check_deadline()
    return VectorSteps(merge_same_labels(out))


def irate(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _instant_family(ctx, args, is_rate=True)


def idelta(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _instant_family(ctx, args, is_rate=False)
