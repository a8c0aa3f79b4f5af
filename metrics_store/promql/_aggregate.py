"""Aggregation operators (sum, avg, min, max, count, group, stddev, stdvar) with ``by``/``without``;
those with a parameter (topk, bottomk, quantile, count_values) are in ``_aggregate_param``.

Members of a group are folded one series at a time, vectorised over steps, with the exact update rules of
Prometheus 2.42 ``aggregation()`` (first value seeds the group; NaN handling of min/max; running mean)."""

from __future__ import annotations

from typing import Any

import numpy as np
import promql_parser

from metrics_store.model import METRIC_NAME, Labels
from metrics_store.promql._aggregate_param import PARAM_AGGREGATIONS, aggregate_param
from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import F64, EvalValue, StepSeries, VectorSteps
from metrics_store.promql.errors import UnsupportedError

__all__ = ["SUPPORTED_AGGREGATIONS", "aggregate"]

SUPPORTED_AGGREGATIONS = frozenset({"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"})


def _grouping(modifier: Any) -> tuple[bool, frozenset[str]]:
    """(by?, label names). No modifier = ``by ()``."""
    if modifier is None:
        return True, frozenset()
    return modifier.type == promql_parser.AggModifierType.By, frozenset(modifier.labels)


def _group_key(labels: Labels, by: bool, names: frozenset[str]) -> Labels:
    if by:
        return tuple(p for p in labels if p[0] in names)
    return tuple(p for p in labels if p[0] not in names and p[0] != METRIC_NAME)


def _fold(op: str, members: list[StepSeries], n: int) -> tuple[F64, np.ndarray]:
    has = np.zeros(n, dtype=np.bool_)
    acc = np.zeros(n, dtype=np.float64)
    count = np.zeros(n, dtype=np.float64)
    mean = np.zeros(n, dtype=np.float64)
    with np.errstate(all="ignore"):
        for s in members:
            p, v = s.present, s.values
            first = p & ~has
            more = p & has
            count = count + p
            if op == "sum":
                acc = np.where(first, v, np.where(more, acc + v, acc))
            elif op == "min":
                acc = np.where(first | (more & ((acc > v) | np.isnan(acc))), v, acc)
            elif op == "max":
                acc = np.where(first | (more & ((acc < v) | np.isnan(acc))), v, acc)
            elif op == "avg":
                inf_mean = np.isinf(acc)
                skip = inf_mean & ((np.isinf(v) & ((acc > 0) == (v > 0))) | (~np.isinf(v) & ~np.isnan(v)))
                updated = acc + (v / count - acc / count)
                acc = np.where(first, v, np.where(more & ~skip, updated, acc))
            elif op in ("stddev", "stdvar"):
                delta = v - mean
                new_mean = mean + delta / count
                acc = np.where(first, 0.0, np.where(more, acc + delta * (v - new_mean), acc))
                mean = np.where(first, v, np.where(more, new_mean, mean))
            has |= p
    if op == "count":
        acc = count
    elif op == "group":
        acc = np.ones(n, dtype=np.float64)
    elif op == "stdvar":
        acc = acc / np.where(has, count, 1)
    elif op == "stddev":
        acc = np.sqrt(acc / np.where(has, count, 1))
    return acc, has


def aggregate(
    ctx: EvalContext, op: str, value: VectorSteps, modifier: Any, param: EvalValue | None = None
) -> VectorSteps:
    by, names = _grouping(modifier)
    if op in PARAM_AGGREGATIONS and param is not None:
        return aggregate_param(ctx, op, value, param, by=by, names=names)
    if op not in SUPPORTED_AGGREGATIONS:
        raise UnsupportedError(f"aggregation {op} is not supported")
    groups: dict[Labels, list[StepSeries]] = {}
    for s in value.series:
        groups.setdefault(_group_key(s.labels, by, names), []).append(s)
    if op == "sum":
        return VectorSteps(_sums(ctx, groups))
    out: list[StepSeries] = []
    for key, members in groups.items():
        values, present = _fold(op, members, ctx.num_steps)
        out.append(StepSeries(key, values, present))
        ctx.check_deadline()
    return VectorSteps(out)


# Elements (groups x members x steps) stacked at once by _sums: a few MB of temporaries. The members of a
# group larger than that are stacked a chunk at a time, the running sum carried from chunk to chunk, so a
# long range's sum never holds a second copy of its members (issue 18: 250 members x 5,761 steps stacked
# three times over, ~36 MB, beside the members themselves).
_SUM_BATCH_ELEMENTS = 1 << 17


def _sums(ctx: EvalContext, groups: dict[Labels, list[StepSeries]]) -> list[StepSeries]:
    """``sum`` of every group as :func:`_fold` computes it, for groups of equal size at once: absent values
    become -0.0 (``x + -0.0 == x`` bit for bit, for every x including ±0, inf and NaN, and ``-0.0 + v == v``
    seeds the sum with the first present value), then ``np.add.accumulate`` adds members in order, one by
    one, exactly as the fold does; a group too large for one batch is added a chunk of members at a time,
    each chunk's accumulation starting from the sum so far (the same additions in the same order)."""
    n = ctx.num_steps
    by_size: dict[int, list[Labels]] = {}
    for key, members in groups.items():
        by_size.setdefault(len(members), []).append(key)
    done: dict[Labels, StepSeries] = {}
    for size, keys in by_size.items():
        per_batch = _SUM_BATCH_ELEMENTS // max(1, size * n)
        if per_batch == 0:
            for key in keys:
                done[key] = _chunked_sum(ctx, key, groups[key], n)
            continue
        for i in range(0, len(keys), per_batch):
            chunk = keys[i : i + per_batch]
            present = np.array([[s.present for s in groups[k]] for k in chunk], dtype=np.bool_)
            values = np.array([[s.values for s in groups[k]] for k in chunk], dtype=np.float64)
            with np.errstate(all="ignore"):
                # copies: a view would keep the whole stacked batch alive as long as any group's answer
                acc = np.add.accumulate(np.where(present, values, -0.0), axis=1)[:, -1, :].copy()
            has = np.asarray(present.any(axis=1)).copy()
            for j, key in enumerate(chunk):
                done[key] = StepSeries(key, acc[j], has[j])
            ctx.check_deadline()
    return [done[key] for key in groups]


def _chunked_sum(ctx: EvalContext, key: Labels, members: list[StepSeries], n: int) -> StepSeries:
    """One group's sum, its members stacked ``_SUM_BATCH_ELEMENTS`` elements at a time; the sum of the
    chunks before is added to a chunk's first row before the chunk is accumulated, so every element sees
    the additions of :func:`_fold`, in its order."""
    per_chunk = max(1, _SUM_BATCH_ELEMENTS // max(1, n))
    acc: F64 | None = None
    has = np.zeros(n, dtype=np.bool_)
    for i in range(0, len(members), per_chunk):
        part = members[i : i + per_chunk]
        present = np.array([s.present for s in part], dtype=np.bool_)
        rows = np.array([s.values for s in part], dtype=np.float64)
        with np.errstate(all="ignore"):
            np.copyto(rows, -0.0, where=~present)
            if acc is not None:
                np.add(acc, rows[0], out=rows[0])  # acc first, as the fold and accumulate add (NaN payloads)
            acc = np.add.accumulate(rows, axis=0)[-1].copy()  # not a view that keeps ``rows`` alive
        has |= present.any(axis=0)
        ctx.check_deadline()
    return StepSeries(key, acc if acc is not None else np.zeros(n, dtype=np.float64), has)
