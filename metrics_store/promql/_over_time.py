"""The ``*_over_time`` family with Prometheus 2.42 semantics, vectorised over steps with ``reduceat`` and
flattened windows. Every function drops the metric name except ``last_over_time`` (as Prometheus)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import (
    F64,
    EvalValue,
    RangeSeries,
    RangeSteps,
    ScalarSteps,
    StepSeries,
    VectorSteps,
    drop_name,
    merge_same_labels,
)
from metrics_store.promql._windows import expand_windows, window_reduce

__all__ = [
    "avg_over_time",
    "count_over_time",
    "last_over_time",
    "max_over_time",
    "min_over_time",
    "present_over_time",
    "quantile_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
]

Reducer = Callable[[RangeSeries], F64]


def _apply(ctx: EvalContext, value: EvalValue, reducer: Reducer, keep_name: bool = False) -> VectorSteps:
    if not isinstance(value, RangeSteps):
        raise TypeError(f"expected a range vector, got {type(value).__name__}")
    out: list[StepSeries] = []
    if reducer in _ROW_WISE and len(value.series) > 1:
        per_batch = max(1, _BATCH_ELEMENTS // max(1, len(value.range_end_ms)))
        for i in range(0, len(value.series), per_batch):
            out.extend(_batched(value.series[i : i + per_batch], reducer, keep_name))
            ctx.check_deadline()
        return VectorSteps(merge_same_labels(out))
    for rs in value.series:
        present = rs.hi > rs.lo
        with np.errstate(all="ignore"):
            values = reducer(rs)
        out.append(StepSeries(rs.labels if keep_name else drop_name(rs.labels), values, present))
        ctx.check_deadline()
    return VectorSteps(merge_same_labels(out))


# Series x steps elements reduced in one batch by _batched (bounds its temporaries).
_BATCH_ELEMENTS = 1 << 18


def _batched(series: list[RangeSeries], reducer: Reducer, keep_name: bool) -> list[StepSeries]:
    """``reducer`` over many series at once: their samples concatenated, each (series, step) window shifted
    by its series' offset. Each window holds the same samples in the same order as in its own series, and
    the reducers of ``_ROW_WISE`` treat every window on its own, so the values are bit-identical to the
    per-series loop; only the numpy call overhead is shared."""
    sizes = np.fromiter((len(rs.values) for rs in series), dtype=np.intp, count=len(series))
    offsets = (np.cumsum(sizes) - sizes)[:, None]
    lo = np.stack([rs.lo for rs in series]) + offsets
    hi = np.stack([rs.hi for rs in series]) + offsets
    vals = np.concatenate([rs.values for rs in series])
    ts = np.concatenate([rs.timestamps_ms for rs in series])
    with np.errstate(all="ignore"):
        flat = reducer(RangeSeries((), ts, vals, lo.ravel(), hi.ravel()))
    values = flat.reshape(lo.shape)
    present = hi > lo
    return [
        StepSeries(rs.labels if keep_name else drop_name(rs.labels), values[k], present[k])
        for k, rs in enumerate(series)
    ]


def _count(rs: RangeSeries) -> F64:
    return (rs.hi - rs.lo).astype(np.float64)


def _sum(rs: RangeSeries) -> F64:
    return window_reduce(np.add, rs.values, rs.lo, rs.hi)


def _incremental_mean(values: F64) -> float:
    # Prometheus' overflow-safe running mean, used where the plain sum is not finite.
    mean, count = 0.0, 0.0
    for v in values.tolist():
        count += 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue
            if not math.isinf(v) and not math.isnan(v):
                continue
        mean += v / count - mean / count
    return mean


def _avg(rs: RangeSeries) -> F64:
    out: F64 = _sum(rs) / _count(rs)
    for step in np.flatnonzero(~np.isfinite(out) & (rs.hi > rs.lo)):
        out[step] = _incremental_mean(rs.values[rs.lo[step] : rs.hi[step]])
    return out


def _min(rs: RangeSeries) -> F64:
    return window_reduce(np.fmin, rs.values, rs.lo, rs.hi)


def _max(rs: RangeSeries) -> F64:
    return window_reduce(np.fmax, rs.values, rs.lo, rs.hi)


def _last(rs: RangeSeries) -> F64:
    out: F64 = rs.values[np.maximum(rs.hi - 1, 0)]
    return out


def _one(rs: RangeSeries) -> F64:
    return np.ones(len(rs.lo), dtype=np.float64)


_CHUNK_SAMPLES = 1 << 21  # flattened window entries per chunk: bounds the memory of _stdvar/_quantiles


def _chunked(rs: RangeSeries, fn: Callable[[RangeSeries, slice], F64]) -> F64:
    """Apply ``fn`` to consecutive step slices whose windows hold about ``_CHUNK_SAMPLES`` in total."""
    counts = np.cumsum(rs.hi - rs.lo)
    total = int(counts[-1]) if len(counts) else 0
    if total <= _CHUNK_SAMPLES:
        return fn(rs, slice(0, len(rs.lo)))
    cuts = np.searchsorted(counts, np.arange(_CHUNK_SAMPLES, total, _CHUNK_SAMPLES), side="right")
    bounds = [0, *sorted(set(int(c) for c in cuts if 0 < c < len(rs.lo))), len(rs.lo)]
    return np.concatenate([fn(rs, slice(a, b)) for a, b in itertools.pairwise(bounds)])


def _part(rs: RangeSeries, part: slice) -> RangeSeries:
    return RangeSeries(rs.labels, rs.timestamps_ms, rs.values, rs.lo[part], rs.hi[part])


def _stdvar(rs: RangeSeries) -> F64:
    return _chunked(rs, lambda r, part: _stdvar_part(_part(r, part)))


def _stdvar_part(rs: RangeSeries) -> F64:
    # Two passes over values shifted by each window's first sample: a constant window gives exactly 0,
    # as Prometheus' Welford loop does.
    count = _count(rs)
    step_of, index = expand_windows(rs.lo, rs.hi)
    n = len(rs.lo)
    shifted = rs.values[index] - rs.values[np.minimum(rs.lo, len(rs.values) - 1)][step_of]
    mean = np.bincount(step_of, weights=shifted, minlength=n) / count
    dev = shifted - mean[step_of]
    out: F64 = np.bincount(step_of, weights=dev * dev, minlength=n) / count
    return out


def _stddev(rs: RangeSeries) -> F64:
    out: F64 = np.sqrt(_stdvar(rs))
    return out


def _quantiles(rs: RangeSeries, q: F64) -> F64:
    return _chunked(rs, lambda r, part: _quantiles_part(_part(r, part), q[part]))


def _quantiles_part(rs: RangeSeries, q: F64) -> F64:
    """Prometheus' ``quantile``: NaNs sort first, linear interpolation between closest ranks."""
    step_of, index = expand_windows(rs.lo, rs.hi)
    vals = rs.values[index]
    nan = np.isnan(vals)
    order = np.lexsort((np.where(nan, 0.0, vals), ~nan, step_of))
    ordered = vals[order]
    n = (rs.hi - rs.lo).astype(np.float64)
    firsts = np.cumsum(rs.hi - rs.lo) - (rs.hi - rs.lo)
    rank = q * (n - 1)
    lower = np.maximum(0.0, np.floor(rank))
    upper = np.minimum(n - 1, lower + 1)
    weight = rank - np.floor(rank)
    ok = (rs.hi > rs.lo) & np.isfinite(rank) & (q >= 0) & (q <= 1)  # others are NaN / +-Inf below
    lo_i = np.where(ok, firsts + np.where(ok, lower, 0).astype(np.intp), 0)
    up_i = np.where(ok, firsts + np.where(ok, upper, 0).astype(np.intp), 0)
    if len(ordered) == 0:
        ordered = np.zeros(1)
    out: F64 = ordered[lo_i] * (1 - weight) + ordered[up_i] * weight
    out = np.where(q < 0, -np.inf, np.where(q > 1, np.inf, out))
    result: F64 = np.where(np.isnan(q), np.nan, out)
    return result


def sum_over_time(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _apply(ctx, args[0], _sum)


def count_over_time(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _apply(ctx, args[0], _count)


def avg_over_time(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _apply(ctx, args[0], _avg)


def min_over_time(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _apply(ctx, args[0], _min)


def max_over_time(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _apply(ctx, args[0], _max)


def last_over_time(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _apply(ctx, args[0], _last, keep_name=True)


def present_over_time(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _apply(ctx, args[0], _one)


def stdvar_over_time(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _apply(ctx, args[0], _stdvar)


def stddev_over_time(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    return _apply(ctx, args[0], _stddev)


# Reducers whose result for a window depends on that window's samples only (not on the step's position).
_ROW_WISE: frozenset[Reducer] = frozenset({_count, _sum, _avg, _min, _max, _last, _one, _stdvar, _stddev})


def quantile_over_time(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    q = args[0]
    if not isinstance(q, ScalarSteps):
        raise TypeError(f"expected a scalar, got {type(q).__name__}")
    return _apply(ctx, args[1], lambda rs: _quantiles(rs, q.values))
