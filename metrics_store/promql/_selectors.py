"""Vector and matrix selectors evaluated for all steps at once.

Each selector fetches its data ONCE for the whole window ``[min(ref) - lookback|range, max(ref)]`` and then
finds every step's sample(s) with ``numpy.searchsorted`` per series. Semantics of Prometheus 2.42:

* instant selection at reference time ``ref = (@ or step) - offset``: the newest sample with
  ``ref - lookback <= t <= ref``; if that sample is a staleness marker the series is absent at that step;
* range selection: samples with ``ref - range <= t <= ref`` (both ends inclusive), staleness markers dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metrics_store.model import SeriesData, stale_mask
from metrics_store.promql._ast import at_spec, duration_ms, selector_matchers
from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import I64, RangeSeries, RangeSteps, StepSeries, VectorSteps

__all__ = ["eval_matrix_selector", "eval_vector_selector", "reference_times"]


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


def _select(ctx: EvalContext, vs: Any, start_ms: int, end_ms: int) -> list[SeriesData]:
    data = ctx.select(selector_matchers(vs), start_ms, end_ms)
    data.sort(key=lambda s: s.labels)  # Prometheus' storage order: by label set
    return data


def eval_vector_selector(ctx: EvalContext, vs: Any, *, sample_times: bool = False) -> VectorSteps:
    """Per-step samples of ``vs``; with ``sample_times`` the values are the samples' timestamps in s."""
    ref = reference_times(ctx, vs.at, vs.offset)
    lookback = ctx.lookback_ms
    data = _select(ctx, vs, int(ref.min()) - lookback, int(ref.max()))
    out: list[StepSeries] = []
    for sd in data:
        ts, vals = sd.timestamps_ms, sd.values
        if len(ts) == 0:
            continue
        idx = np.searchsorted(ts, ref, side="right") - 1
        found = idx >= 0
        safe = np.where(found, idx, 0)
        values = vals[safe]
        present = found & (ts[safe] >= ref - lookback) & ~stale_mask(values)
        if sample_times:
            values = ts[safe].astype(np.float64) / 1000
        if present.any():
            out.append(StepSeries(sd.labels, values, present))
    ctx.check_deadline()
    return VectorSteps(out)


def eval_matrix_selector(ctx: EvalContext, ms: Any) -> RangeSteps:
    vs = ms.vector_selector
    range_ms = duration_ms(ms.range)
    ref = reference_times(ctx, vs.at, vs.offset)
    starts = ref - np.int64(range_ms)
    data = _select(ctx, vs, int(starts.min()), int(ref.max()))
    out: list[RangeSeries] = []
    for sd in data:
        keep = ~stale_mask(sd.values)
        ts, vals = sd.timestamps_ms[keep], sd.values[keep]
        lo = np.searchsorted(ts, starts, side="left")
        hi = np.searchsorted(ts, ref, side="right")
        if (hi > lo).any():
            out.append(RangeSeries(sd.labels, ts, vals, lo, hi))
    ctx.check_deadline()
    return RangeSteps(out, range_ms, ref)
