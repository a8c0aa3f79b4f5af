"""histogram_quantile over classic buckets (``le`` label), Prometheus 2.42 ``bucketQuantile``: buckets
sorted by upper bound, equal bounds coalesced, counts forced monotonic, linear interpolation inside the
bucket holding the rank; NaN without a +Inf bucket or observations."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from metrics_store.model import METRIC_NAME, Labels
from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import EvalValue, ScalarSteps, StepSeries, VectorSteps, merge_same_labels

__all__ = ["bucket_fraction", "bucket_quantile", "histogram_fraction", "histogram_quantile", "native_only"]

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


def bucket_fraction(lower: float, upper: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus 3's ``BucketFraction``: the estimated share of observations between ``lower`` and
    ``upper`` (linear interpolation inside a bucket, none inside an infinite one); buckets sorted by upper
    bound, equal bounds coalesced (no monotonicity fix); NaN without a +Inf bucket or observations."""
    buckets = sorted(buckets, key=lambda b: b[0])
    if not buckets or buckets[-1][0] != math.inf:
        return math.nan
    merged: list[list[float]] = []
    for bound, count in buckets:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    total = merged[-1][1]
    if total == 0 or math.isnan(lower) or math.isnan(upper):
        return math.nan
    if lower >= upper:
        return 0.0
    low_rank = _rank_at(lower, merged)
    up_rank = _rank_at(upper, merged)
    return (min(up_rank, total) - min(low_rank, total)) / total


def _rank_at(value: float, merged: list[list[float]]) -> float:
    """The cumulative count at ``value`` (``BucketFraction``'s walk for one of its two bounds)."""
    rank = 0.0
    lower_bound = 0.0 if merged[0][0] > 0 else -math.inf
    for i, (upper_bound, count) in enumerate(merged):
        if i > 0:
            lower_bound = merged[i - 1][0]
        if lower_bound >= value:
            return rank
        if lower_bound < value < upper_bound:
            if lower_bound == -math.inf:
                return count
            return rank + (count - rank) * (value - lower_bound) / (upper_bound - lower_bound)
        rank = count
    return math.inf  # past every bucket: the caller clamps to the total


def histogram_fraction(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    """3.x: ``histogram_fraction`` over classic buckets too (2.42: native histograms only, see
    :func:`native_only`)."""
    if not ctx.semantics.native_histogram_functions:
        return native_only(ctx, args)
    lower, upper, vec = args
    if (
        not isinstance(lower, ScalarSteps)
        or not isinstance(upper, ScalarSteps)
        or not isinstance(vec, VectorSteps)
    ):
        raise TypeError("histogram_fraction(scalar, scalar, instant vector)")
    lo, hi = lower.values, upper.values
    return _per_bucket_group(
        ctx, vec, lambda i, buckets: bucket_fraction(float(lo[i]), float(hi[i]), buckets)
    )


def histogram_quantile(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    q, vec = args
    if not isinstance(q, ScalarSteps) or not isinstance(vec, VectorSteps):
        raise TypeError("histogram_quantile(scalar, instant vector)")
    qs = q.values
    return _per_bucket_group(ctx, vec, lambda i, buckets: bucket_quantile(float(qs[i]), buckets))


def _per_bucket_group(
    ctx: EvalContext, vec: VectorSteps, fn: Callable[[int, list[tuple[float, float]]], float]
) -> VectorSteps:
    """``fn(step, [(upper bound, count)])`` for every group of bucket series (all labels but ``le``) and
    step; the metric name is dropped."""
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
                values[i] = fn(i, buckets)
        labels = tuple(p for p in key if p[0] != METRIC_NAME)
        out.append(StepSeries(labels, values, present))
        ctx.check_deadline()
    return VectorSteps(merge_same_labels(out))


def native_only(ctx: EvalContext, args: list[EvalValue]) -> EvalValue:
    """histogram_count/sum/fraction (and 3.x's histogram_avg/stddev/stdvar): defined on native histograms
    only, which this store does not hold; on float samples Prometheus 2.42 and 3.x return an empty vector."""
    return VectorSteps([])
