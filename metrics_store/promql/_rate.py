"""rate, increase, delta, irate, idelta — ported from Prometheus 2.42 ``promql/functions.go``
(``extrapolatedRate`` and ``instantValue``), vectorised over steps."""

from __future__ import annotations

import numpy as np

from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import (
    F64,
    EvalValue,
    PackedRange,
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


def _extrapolated(
    rs: RangeSeries, steps: RangeSteps, is_counter: bool, is_rate: bool, zero_after_threshold: bool
) -> StepSeries | None:
    """Prometheus' extrapolation. ``zero_after_threshold`` (3.x): a start farther than 1.1 average intervals
    is first moved to half an interval, then clamped to the counter's zero point; 2.42 clamps first."""
    ts, vals = rs.timestamps_ms, rs.values
    n = rs.hi - rs.lo
    ok = n >= 2
    if not ok.any():
        return None
    every = bool(ok.all())  # the usual case: no masking of the index arrays needed
    first = rs.lo if every else np.where(ok, rs.lo, 0)
    last = rs.hi - 1 if every else np.where(ok, rs.hi - 1, 0)
    intervals = n - 1 if every else np.where(ok, n - 1, 1)
    first_v, last_v = vals[first], vals[last]
    with np.errstate(all="ignore"):
        result = last_v - first_v
        if is_counter:
            result = _counter_corrections(vals, first, last, result, ok)
        range_end = steps.range_end_ms
        range_start = range_end - np.int64(steps.range_ms)
        ts_first, ts_last = ts[first], ts[last]
        to_start = (ts_first - range_start).astype(np.float64) / 1000
        to_end = (range_end - ts_last).astype(np.float64) / 1000
        sampled = (ts_last - ts_first).astype(np.float64) / 1000
        average = sampled / intervals.astype(np.float64)
        threshold = average * 1.1
        half = average / 2
        if zero_after_threshold:
            to_start = np.where(to_start < threshold, to_start, half)
        if is_counter:
            to_zero = sampled * (first_v / result)
            use_zero = (result > 0) & (first_v >= 0) & (to_zero < to_start)
            to_start = np.where(use_zero, to_zero, to_start)
        if not zero_after_threshold:
            to_start = np.where(to_start < threshold, to_start, half)
        interval = sampled + to_start
        interval = interval + np.where(to_end < threshold, to_end, half)
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
    if len(steps.series) < 2:
        out: list[StepSeries] = []
        for rs in steps.series:
            s = _extrapolated(rs, steps, is_counter, is_rate, ctx.semantics.zero_after_threshold)
            if s is not None:
                out.append(s)
        ctx.check_deadline()
        return VectorSteps(merge_same_labels(out))
    out = []
    per_chunk = max(1, _BATCH_ELEMENTS // max(1, len(steps.range_end_ms)))
    for i in range(0, len(steps.series), per_chunk):
        batch = steps.series[i : i + per_chunk]
        rs_all = _packed_rows(steps.packed, i, i + len(batch)) if steps.packed is not None else None
        out.extend(_batched(batch, steps, is_counter, is_rate, ctx.semantics.zero_after_threshold, rs_all))
        ctx.check_deadline()
    return VectorSteps(merge_same_labels(out))


def _packed_rows(packed: PackedRange, i: int, j: int) -> RangeSeries:
    """Rows ``[i, j)`` of the selector's buffer as one RangeSeries with flat windows (views, no copy)."""
    a, b = int(packed.start[i]), int(packed.end[j - 1])
    return RangeSeries(
        (),
        packed.timestamps_ms[a:b],
        packed.values[a:b],
        (packed.lo[i:j] - a).ravel(),
        (packed.hi[i:j] - a).ravel(),
    )


# Series x steps elements evaluated in one batch: the ~30 temporaries of a batch (128 kB each) stay in the
# CPU caches; batches of 2^18 (2 MB temporaries) took twice the CPU on this workload (bench/query.py).
_BATCH_ELEMENTS = 1 << 14


def _batched(
    series: list[RangeSeries],
    steps: RangeSteps,
    is_counter: bool,
    is_rate: bool,
    zero_after_threshold: bool,
    rs_all: RangeSeries | None = None,
) -> list[StepSeries]:
    """:func:`_extrapolated` for all series at once: their samples concatenated (or ``rs_all``: the same
    rows as views of the selector's buffer, see :func:`_packed_rows`), windows as rows of a (series x steps)
    index matrix. Every element goes through the same float operations in the same order, so the results
    are bit-identical to the per-series path; only the numpy call overhead is shared."""
    shape = (len(series), len(steps.range_end_ms))
    if rs_all is None:
        sizes = np.fromiter((len(rs.timestamps_ms) for rs in series), dtype=np.intp, count=len(series))
        offsets = (np.cumsum(sizes) - sizes)[:, None]
        ts = np.concatenate([rs.timestamps_ms for rs in series])
        vals = np.concatenate([rs.values for rs in series])
        lo = np.stack([rs.lo for rs in series]) + offsets
        hi = np.stack([rs.hi for rs in series]) + offsets
        rs_all = RangeSeries((), ts, vals, lo.ravel(), hi.ravel())
    flat = np.broadcast_to(steps.range_end_ms, shape).ravel()
    one = _extrapolated(
        rs_all, RangeSteps([], steps.range_ms, flat), is_counter, is_rate, zero_after_threshold
    )
    if one is None:
        return []
    values = one.values.reshape(shape)
    present = one.present.reshape(shape)
    keep = np.asarray(present.any(axis=1))
    return [StepSeries(drop_name(rs.labels), values[k], present[k]) for k, rs in enumerate(series) if keep[k]]


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
