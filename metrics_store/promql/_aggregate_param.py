"""Aggregations with a parameter — topk, bottomk, quantile, count_values — with Prometheus 2.42 semantics.

topk/bottomk replay Prometheus' per-group heap (Go ``container/heap`` with ``vectorByValueHeap``) step by
step, so ties and NaNs select the same series as Prometheus does."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from metrics_store.model import METRIC_NAME, Labels
from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import EvalValue, ScalarSteps, StepSeries, StringValue, VectorSteps
from metrics_store.promql.errors import QueryExecutionError

__all__ = ["PARAM_AGGREGATIONS", "aggregate_param", "format_go_float"]

PARAM_AGGREGATIONS = frozenset({"topk", "bottomk", "quantile", "count_values"})
_LABEL_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789")

GroupKey = tuple[bool, frozenset[str]]


def _key(labels: Labels, by: bool, names: frozenset[str]) -> Labels:
    if by:
        return tuple(p for p in labels if p[0] in names)
    return tuple(p for p in labels if p[0] not in names and p[0] != METRIC_NAME)


def format_go_float(v: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return format(Decimal(repr(v)).normalize(), "f")


# --- Go container/heap over (value, index) with Prometheus' Less ---------------------------------------


def _less(heap: list[tuple[float, int]], i: int, j: int, reverse: bool) -> bool:
    a, b = heap[i][0], heap[j][0]
    if math.isnan(a):
        return True
    return a > b if reverse else a < b


def _up(heap: list[tuple[float, int]], j: int, reverse: bool) -> None:
    while True:
        i = (j - 1) // 2 if j > 0 else 0
        if i == j or not _less(heap, j, i, reverse):
            break
        heap[i], heap[j] = heap[j], heap[i]
        j = i


def _down(heap: list[tuple[float, int]], i0: int, n: int, reverse: bool) -> bool:
    i = i0
    while True:
        j1 = 2 * i + 1
        if j1 >= n:
            break
        j = j1
        j2 = j1 + 1
        if j2 < n and _less(heap, j2, j1, reverse):
            j = j2
        if not _less(heap, j, i, reverse):
            break
        heap[i], heap[j] = heap[j], heap[i]
        i = j
    return i > i0


def _select_k(values: list[tuple[float, int]], k: int, top: bool) -> list[int]:
    """Indexes kept by Prometheus' topk (``top``) or bottomk heap for one group at one step."""
    reverse = not top
    heap: list[tuple[float, int]] = []
    for v, idx in values:
        if len(heap) < k:
            heap.append((v, idx))
            _up(heap, len(heap) - 1, reverse)
            continue
        head = heap[0][0]
        better = head < v if top else head > v
        if better or (math.isnan(head) and not math.isnan(v)):
            heap[0] = (v, idx)
            if k > 1 and not _down(heap, 0, len(heap), reverse):
                _up(heap, 0, reverse)
    return [idx for _, idx in heap]


_DEADLINE_EVERY_STEPS = 1024  # per-step Python loops check the query deadline this often


def _topk(
    ctx: EvalContext, op: str, k_values: np.ndarray, groups: dict[Labels, list[StepSeries]]
) -> VectorSteps:
    n = ctx.num_steps
    keep: dict[int, np.ndarray] = {}
    series: list[StepSeries] = []
    for members in groups.values():
        base = len(series)
        series.extend(members)
        for step in range(n):
            if step % _DEADLINE_EVERY_STEPS == 0:
                ctx.check_deadline()
            kf = float(k_values[step])
            if math.isnan(kf) or not -(2.0**63) <= kf < 2.0**63:
                raise QueryExecutionError(f"Scalar value {kf:g} overflows int64")
            k = int(kf)
            if k < 1:
                continue
            present = [(float(s.values[step]), base + i) for i, s in enumerate(members) if s.present[step]]
            for idx in _select_k(present, k, op == "topk"):
                keep.setdefault(idx, np.zeros(n, dtype=np.bool_))[step] = True
        ctx.check_deadline()
    return VectorSteps([StepSeries(s.labels, s.values, keep[i]) for i, s in enumerate(series) if i in keep])


def _quantile(ctx: EvalContext, q: np.ndarray, groups: dict[Labels, list[StepSeries]]) -> VectorSteps:
    out = []
    for key, members in groups.items():
        values = np.full(ctx.num_steps, np.nan)
        present = np.zeros(ctx.num_steps, dtype=np.bool_)
        for step in range(ctx.num_steps):
            if step % _DEADLINE_EVERY_STEPS == 0:
                ctx.check_deadline()
            vals = [float(s.values[step]) for s in members if s.present[step]]
            if not vals:
                continue
            present[step] = True
            values[step] = _rank_quantile(float(q[step]), vals, exact_rank=ctx.semantics.version == "3")
        out.append(StepSeries(key, values, present))
    return VectorSteps(out)


def _rank_quantile(q: float, vals: list[float], *, exact_rank: bool = False) -> float:
    """Prometheus' ``quantile``; ``exact_rank`` (3.x): a rank that falls on a value is that value (2.42
    weighted it with its neighbour, turning ``x * 1 + Inf * 0`` into NaN)."""
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if math.isnan(q):
        return math.nan
    vals = sorted(vals, key=lambda v: (not math.isnan(v), 0.0 if math.isnan(v) else v))
    n = float(len(vals))
    rank = q * (n - 1)
    lower = max(0.0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    if exact_rank and weight == 0:
        return vals[int(lower)]
    return vals[int(lower)] * (1 - weight) + vals[int(upper)] * weight


def _count_values(
    ctx: EvalContext, label: str, vec: VectorSteps, by: bool, names: frozenset[str]
) -> VectorSteps:
    if not label or label[0].isdigit() or not set(label) <= _LABEL_NAME_CHARS:
        raise QueryExecutionError(f'invalid label name "{label}"')
    if by:
        names = names | {label}
    counts: dict[Labels, np.ndarray] = {}
    for s in vec.series:
        base = [p for p in s.labels if p[0] != label]
        for i, step in enumerate(np.flatnonzero(s.present).tolist()):
            if i % _DEADLINE_EVERY_STEPS == 0:
                ctx.check_deadline()
            labels = tuple(sorted([*base, (label, format_go_float(float(s.values[step])))]))
            key = _key(labels, by, names)
            arr = counts.get(key)
            if arr is None:
                arr = counts[key] = np.zeros(ctx.num_steps)
            arr[step] += 1
        ctx.check_deadline()
    return VectorSteps([StepSeries(k, v, v > 0) for k, v in counts.items()])


def aggregate_param(
    ctx: EvalContext, op: str, vec: VectorSteps, param: EvalValue, *, by: bool, names: frozenset[str]
) -> VectorSteps:
    if op == "count_values":
        if not isinstance(param, StringValue):
            raise TypeError("count_values takes a string parameter")
        return _count_values(ctx, param.value, vec, by, names)
    if not isinstance(param, ScalarSteps):
        raise TypeError(f"{op} takes a scalar parameter")
    groups: dict[Labels, list[StepSeries]] = {}
    for s in vec.series:
        groups.setdefault(_key(s.labels, by, names), []).append(s)
    if op == "quantile":
        return _quantile(ctx, param.values, groups)
    return _topk(ctx, op, param.values, groups)
