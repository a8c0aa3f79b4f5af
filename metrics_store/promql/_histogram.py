"""histogram_quantile over classic buckets (``le`` label), Prometheus 2.42 ``bucketQuantile``: buckets
sorted by upper bound, equal bounds coalesced, counts forced monotonic, linear interpolation inside the
bucket holding the rank; NaN without a +Inf bucket or observations."""

from __future__ import annotations

import math

import numpy as np

from metrics_store.model import METRIC_NAME, Labels
from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import EvalValue, ScalarSteps, StepSeries, VectorSteps, merge_same_labels

__all__ = ["bucket_quantile", "histogram_quantile", "native_only"]

BUCKET_LABEL = "le"


def _parse_bound(text: str) -> float | None:
    """Go's ``strconv.ParseFloat`` for the usual spellings (no underscores)."""
    if "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    buckets = sorted(buckets, key=lambda b: b[0])
    if not math.isinf(buckets[-1][0]) or buckets[-1][0] < 0:
        return math.nan
    merged: list[list[float]] = []
    for bound, count in buckets:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    highest = -math.inf
    for b in merged:
        if b[1] > highest:
            highest = b[1]
        elif b[1] < highest:
            b[1] = highest
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    idx = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if idx == len(merged) - 1:
        return merged[-2][0]
    if idx == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[idx][0], merged[idx][1]
    if idx > 0:
        start = merged[idx - 1][0]
        count -= merged[idx - 1][1]
        rank -= merged[idx - 1][1]
    return start + (end - start) * (rank / count)


_DEADLINE_EVERY_STEPS = 1024  # the per-step loop checks the query deadline this often


def histogram_quantile(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    q, vec = args
    if not isinstance(q, ScalarSteps) or not isinstance(vec, VectorSteps):
        raise TypeError("histogram_quantile(scalar, instant vector)")
    groups: dict[Labels, list[tuple[float, StepSeries]]] = {}
    for s in vec.series:
        bound = _parse_bound(dict(s.labels).get(BUCKET_LABEL, "x"))
        if bound is None:
            continue
        key = tuple(p for p in s.labels if p[0] != BUCKET_LABEL)
        groups.setdefault(key, []).append((bound, s))
    out = []
    for key, members in groups.items():
        values = np.full(ctx.num_steps, np.nan)
        present = np.zeros(ctx.num_steps, dtype=np.bool_)
        for i in range(ctx.num_steps):
            if i % _DEADLINE_EVERY_STEPS == 0:
                ctx.check_deadline()
            buckets = [(b, float(s.values[i])) for b, s in members if s.present[i]]
            if buckets:
                present[i] = True
                values[i] = bucket_quantile(float(q.values[i]), buckets)
        labels = tuple(p for p in key if p[0] != METRIC_NAME)
        out.append(StepSeries(labels, values, present))
        ctx.check_deadline()
    return VectorSteps(merge_same_labels(out))


def native_only(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    """histogram_count/sum/fraction (and 3.x's histogram_avg/stddev/stdvar): defined on native histograms
    only, which this store does not hold; on float samples Prometheus 2.42 and 3.x return an empty vector."""
    return VectorSteps([])
