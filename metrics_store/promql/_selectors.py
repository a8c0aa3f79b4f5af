"""Vector and matrix selectors evaluated for all steps at once.

Each selector fetches its data ONCE for the whole window ``[min(ref) - lookback|range, max(ref)]`` and then
finds every step's sample(s) with ``numpy.searchsorted`` per series. Semantics of Prometheus 2.42 and 3.x
(``ctx.semantics``, see :mod:`metrics_store.promql.semantics`):

* instant selection at reference time ``ref = (@ or step) - offset``: the newest sample with
  ``ref - lookback <= t <= ref`` (2.42) or ``ref - lookback < t <= ref`` (3.x); if that sample is a
  staleness marker the series is absent at that step;
* range selection: samples with ``ref - range <= t <= ref`` (2.42: both ends inclusive) or
  ``ref - range < t <= ref`` (3.x: left-open), staleness markers dropped.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import promql_parser

from metrics_store.model import Matcher, SeriesData, stale_mask
from metrics_store.promql._ast import at_spec, duration_ms, selector_matchers
from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import I64, PackedRange, RangeSeries, RangeSteps, StepSeries, VectorSteps

__all__ = ["eval_matrix_selector", "eval_vector_selector", "reference_times", "selector_read"]


def reference_times(ctx: EvalContext, at: Any, offset: Any) -> I64:
    """Per-step reference time of a selector: the step (or its ``@`` time) minus ``offset``."""
    spec = at_spec(at)
    if spec is None:
        base = ctx.steps_ms
    else:
        kind, ms = spec
        fixed = ctx.start_ms if kind == "start" else ctx.end_ms if kind == "end" else ms
        base = np.full(ctx.num_steps, fixed, dtype=np.int64)
    out: I64 = base - np.int64(duration_ms(offset))
    return out


def _select(
    ctx: EvalContext, vs: Any, start_ms: int, end_ms: int, data: list[SeriesData] | None
) -> list[SeriesData]:
    """The selector's series by label set (Prometheus' storage order); ``data`` (a slice of the read,
    given by ``_sliced``, which orders the results itself) as it is: in the read's order, so that the
    selector takes the read's arrays without a copy (:func:`_joined`)."""
    if data is not None:
        return data
    data = ctx.select(selector_matchers(vs, dot_nl=ctx.semantics.regex_dot_nl), start_ms, end_ms)
    data.sort(key=lambda s: s.labels)
    return data


def _lookback(ctx: EvalContext) -> int:
    # 3.x's left-open lookback window is 2.42's closed one a millisecond shorter (integer timestamps)
    return ctx.lookback_ms - 1 if ctx.semantics.left_open else ctx.lookback_ms


def selector_read(ctx: EvalContext, node: Any) -> tuple[list[Matcher], int, int]:
    """What a vector or matrix selector reads: its matchers and ``[start_ms, end_ms]``."""
    if isinstance(node, promql_parser.MatrixSelector):
        vs = node.vector_selector
        ref = reference_times(ctx, vs.at, vs.offset)
        start = int(ref.min()) - duration_ms(node.range)
    else:
        vs = node
        ref = reference_times(ctx, vs.at, vs.offset)
        start = int(ref.min()) - _lookback(ctx)
    return selector_matchers(vs, dot_nl=ctx.semantics.regex_dot_nl), start, int(ref.max())


def eval_vector_selector(
    ctx: EvalContext, vs: Any, *, sample_times: bool = False, data: list[SeriesData] | None = None
) -> VectorSteps:
    """Per-step samples of ``vs``; with ``sample_times`` the values are the samples' timestamps in s.
    ``data``: the series to use instead of reading them (one slice of the read, see ``_sliced``)."""
    ref = reference_times(ctx, vs.at, vs.offset)
    lookback = _lookback(ctx)
    read_order = data is not None
    data = [
        sd
        for sd in _select(ctx, vs, int(ref.min()) - lookback, int(ref.max()), data)
        if len(sd.timestamps_ms)
    ]
    packed = _pack(data, int(ref.min()), int(ref.max()), read_order=read_order)
    if packed is None:
        out = [s for sd in data if (s := _instant_one(sd, ref, lookback, sample_times)) is not None]
    else:
        ts, vals, offsets, sizes, base = packed
        key = _keys(ts, sizes, base)
        idx = np.searchsorted(key, (base + ref).ravel(), side="right").reshape(base.shape[0], -1) - 1
        found = idx >= offsets
        safe = np.where(found, idx, offsets)
        values = vals[safe]
        present = found & (ts[safe] >= ref - lookback) & ~stale_mask(values)
        if sample_times:
            values = ts[safe].astype(np.float64) / 1000
        keep = np.asarray(present.any(axis=1))
        out = [StepSeries(sd.labels, values[k], present[k]) for k, sd in enumerate(data) if keep[k]]
    ctx.check_deadline()
    return VectorSteps(out)


def _instant_one(sd: SeriesData, ref: I64, lookback: int, sample_times: bool) -> StepSeries | None:
    ts, vals = sd.timestamps_ms, sd.values
    idx = np.searchsorted(ts, ref, side="right") - 1
    found = idx >= 0
    safe = np.where(found, idx, 0)
    values = vals[safe]
    present = found & (ts[safe] >= ref - lookback) & ~stale_mask(values)
    if sample_times:
        values = ts[safe].astype(np.float64) / 1000
    return StepSeries(sd.labels, values, present) if present.any() else None


_Packed = tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]


def _pack(
    data: list[SeriesData], lo_ms: int, hi_ms: int, *, drop_stale: bool = False, read_order: bool = False
) -> _Packed | None:
    """All series' samples in one array, for one ``searchsorted`` over every (series, step) pair instead of
    one call per series: ``key = series * span + (t - t0)`` keeps each series' timestamps in a block of its
    own, so a search for ``series * span + (ref - t0)`` finds exactly what a search in that series finds.
    Returns ``(ts, values, offsets[:, None], sizes, base)`` with ``base = series * span - t0`` (add the
    reference times to search, all within ``[lo_ms, hi_ms]``; :func:`_keys` builds the keys); None for
    fewer than two series or if the keys could overflow."""
    if len(data) < 2:
        return None
    sizes = np.fromiter((len(sd.timestamps_ms) for sd in data), dtype=np.int64, count=len(data))
    if read_order:
        ts = _joined([sd.timestamps_ms for sd in data])
        vals = _joined([sd.values for sd in data])
    else:
        ts = np.concatenate([sd.timestamps_ms for sd in data])
        vals = np.concatenate([sd.values for sd in data])
    if drop_stale:
        stale = stale_mask(vals)
        if stale.any():  # rare: copy and recount only then
            series = np.repeat(np.arange(len(data), dtype=np.int64), sizes)
            keep = ~stale
            ts, vals, series = ts[keep], vals[keep], series[keep]
            sizes = np.bincount(series, minlength=len(data)) if len(series) else np.zeros(len(data), np.int64)
    t0 = min(int(ts.min()), lo_ms) if len(ts) else lo_ms
    t1 = max(int(ts.max()), hi_ms) if len(ts) else hi_ms
    span = t1 - t0 + 1
    if len(data) * span >= 2**62:
        return None
    base = (np.arange(len(data), dtype=np.int64) * np.int64(span) - np.int64(t0))[:, None]
    offsets = (np.cumsum(sizes) - sizes).astype(np.intp)[:, None]
    return ts, vals, offsets, sizes, base


def _joined(parts: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    """``np.concatenate(parts)`` of parts that are consecutive views of one buffer, in order (the series of
    one slice of a read, as :class:`~metrics_store.base.SlicedQuerier` gives them): that buffer's span
    instead of a copy, read-only (nothing writes into a selector's samples; a write would raise rather than
    reach the read). Checked in O(1) (first and last part, the buffer's bounds); a copy when that fails."""
    first, last = parts[0], parts[-1]
    base = first.base
    size = first.itemsize
    total = sum(len(p) for p in parts)
    if not isinstance(base, np.ndarray) or base.ndim != 1 or base.dtype != first.dtype:
        return np.concatenate(parts)
    start, rem = divmod(first.ctypes.data - base.ctypes.data, size)
    end_ptr = last.ctypes.data + len(last) * size
    if rem or not base.flags.c_contiguous or start < 0 or start + total > len(base):
        return np.concatenate(parts)
    if last.base is not base or end_ptr != first.ctypes.data + total * size:
        return np.concatenate(parts)
    span = base[start : start + total]
    span.flags.writeable = False
    return span


def _keys(ts: I64, sizes: npt.NDArray[Any], base: npt.NDArray[Any]) -> I64:
    """The search keys of :func:`_pack`'s samples: ``series * span + (t - t0)``, ascending."""
    key: I64 = np.repeat(base[:, 0], sizes) + ts
    return key


def _search(key: npt.NDArray[Any], needles: npt.NDArray[Any], side: str) -> I64:
    found: I64 = np.searchsorted(key, needles.ravel(), side=side).reshape(needles.shape)  # type: ignore[call-overload]
    return found


def _window_bounds(
    ts: I64, sizes: npt.NDArray[Any], starts: I64, ref: I64, *, left_open: bool = False
) -> tuple[I64, I64]:
    """Per (series, step) window ``[lo, hi)`` of sample indices into ``ts`` (the series' samples one after
    the other, ``sizes`` each) for non-decreasing ``ref`` (and so ``starts``): counts instead of a search per
    window. A sample is below ``hi[k, j]`` iff ``t <= ref[j]``, i.e. for every
    ``j >= searchsorted(ref, t, "left")``, and below ``lo[k, j]`` iff ``t < starts[j]``, i.e. for
    ``j >= searchsorted(starts, t, "right")``; so ``hi`` and ``lo`` are running sums of per-series histograms
    of those step indices (a search in the small step grid per sample, instead of one in all samples per
    window). One running sum over all series at once: row k's histogram has a last bin (samples past every
    step) and so the sum enters row k at series k's offset. ``left_open`` (Prometheus 3): a sample exactly at
    ``starts[j]`` is outside too, i.e. below ``lo[k, j]`` iff ``t <= starts[j]``."""
    n, steps = len(sizes), len(ref)
    series = np.repeat(np.arange(n, dtype=np.intp) * (steps + 1), sizes)
    out: list[I64] = []
    start_side: Literal["left", "right"] = "left" if left_open else "right"
    for grid, side in ((starts, start_side), (ref, "left")):
        first = _grid_index(grid, ts, side)
        first += series
        counts = np.bincount(first, minlength=n * (steps + 1))
        del first  # in place from here: a long range's slice holds (series x steps) of these (issue 18)
        out.append(np.cumsum(counts, out=counts).reshape(n, steps + 1)[:, :steps])
    return out[0], out[1]


def _grid_index(grid: I64, ts: I64, side: Literal["left", "right"]) -> npt.NDArray[np.intp]:
    """``searchsorted(grid, ts, side)`` for a non-decreasing ``grid``; for an evenly spaced one (every range
    query without ``@``) by arithmetic instead of a binary search per sample: the number of grid points
    below ``t`` ("left") is ``ceil((t - g0) / d)``, at or below it ("right") ``floor((t - g0) / d) + 1``,
    both clipped to ``[0, len(grid)]`` (exact integer arithmetic)."""
    if len(grid) >= 2:
        d = int(grid[1] - grid[0])
        if d <= 0 or not bool((np.diff(grid) == d).all()):
            found: npt.NDArray[np.intp] = np.searchsorted(grid, ts, side=side)
            return found
    else:
        d = 1  # one point: either formula with any positive spacing counts it right
    idx = ts - grid[0]  # the one fresh array: the arithmetic below runs in place on it
    if side == "left":
        np.negative(idx, out=idx)
        np.floor_divide(idx, d, out=idx)
        np.negative(idx, out=idx)
    else:
        np.floor_divide(idx, d, out=idx)
        idx += 1
    np.maximum(idx, 0, out=idx)  # in place: np.clip costs twice as much here
    np.minimum(idx, len(grid), out=idx)
    out: npt.NDArray[np.intp] = idx.astype(np.intp, copy=False)
    return out


def eval_matrix_selector(ctx: EvalContext, ms: Any, data: list[SeriesData] | None = None) -> RangeSteps:
    """Per-step windows of ``ms``; ``data``: the series to use instead of reading them (see ``_sliced``)."""
    vs = ms.vector_selector
    range_ms = duration_ms(ms.range)
    ref = reference_times(ctx, vs.at, vs.offset)
    starts = ref - np.int64(range_ms)
    side: Literal["left", "right"] = (
        "right" if ctx.semantics.left_open else "left"
    )  # 3.x excludes a sample at the range start
    read_order = data is not None
    data = _select(ctx, vs, int(starts.min()), int(ref.max()), data)
    out: list[RangeSeries] = []
    packed = _pack(data, int(starts.min()), int(ref.max()), drop_stale=True, read_order=read_order)
    if packed is None:
        for sd in data:
            keep = ~stale_mask(sd.values)
            ts, vals = sd.timestamps_ms[keep], sd.values[keep]
            lo = np.searchsorted(ts, starts, side=side)
            hi = np.searchsorted(ts, ref, side="right")
            if (hi > lo).any():
                out.append(RangeSeries(sd.labels, ts, vals, lo, hi))
    else:
        ts, vals, offsets, sizes, base = packed
        ends = np.append(offsets[1:, 0], len(ts))
        if bool((np.diff(ref) >= 0).all()):
            lo_abs, hi_abs = _window_bounds(ts, sizes, starts, ref, left_open=ctx.semantics.left_open)
        else:
            key = _keys(ts, sizes, base)
            lo_abs, hi_abs = _search(key, base + starts, side), _search(key, base + ref, "right")
        los, his = lo_abs - offsets, hi_abs - offsets
        nonempty = np.asarray((his > los).any(axis=1))
        for k in np.flatnonzero(nonempty).tolist():
            a, b = int(offsets[k, 0]), int(ends[k])
            out.append(RangeSeries(data[k].labels, ts[a:b], vals[a:b], los[k], his[k]))
        if not nonempty.all():
            lo_abs, hi_abs = lo_abs[nonempty], hi_abs[nonempty]
        flat = PackedRange(ts, vals, offsets[nonempty, 0], ends[nonempty], lo_abs, hi_abs)
        ctx.check_deadline()
        return RangeSteps(out, range_ms, ref, flat)
    ctx.check_deadline()
    return RangeSteps(out, range_ms, ref)
