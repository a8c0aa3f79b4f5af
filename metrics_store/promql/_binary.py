"""Binary operators: arithmetic, comparison (filter or ``bool``), set operators, with Prometheus 2.42
semantics for scalar/scalar, vector/scalar and vector/vector (one-to-one matching with ``on``/``ignoring``;
``and``/``or``/``unless`` many-to-many; ``group_left``/``group_right`` with extra labels)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import promql_parser

from metrics_store.model import METRIC_NAME, Labels, labels_get
from metrics_store.promql._context import EvalContext
from metrics_store.promql._steps import (
    F64,
    EvalValue,
    ScalarSteps,
    StepSeries,
    VectorSteps,
    drop_name,
    merge_same_labels,
)
from metrics_store.promql.errors import QueryExecutionError, UnsupportedError

__all__ = ["binary"]

Op = Callable[[F64, F64], F64]

ARITHMETIC: dict[str, Op] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "%": np.fmod,  # Go's math.Mod: sign of the dividend
    "^": np.power,
    "atan2": np.arctan2,
}
COMPARISON: dict[str, Callable[[F64, F64], np.ndarray]] = {
    "==": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}
SET_OPS = frozenset({"and", "or", "unless"})
# Prometheus 2.42 shouldDropMetricName: arithmetic drops the metric name, except atan2 (3.x: atan2 too).
DROPS_NAME = frozenset({"+", "-", "*", "/", "%", "^"})
DROPS_NAME_3 = DROPS_NAME | {"atan2"}


def _fmt(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}"


def _scalar_scalar(op: str, lhs: F64, rhs: F64) -> ScalarSteps:
    with np.errstate(all="ignore"):
        if op in ARITHMETIC:
            return ScalarSteps(ARITHMETIC[op](lhs, rhs))
        return ScalarSteps(COMPARISON[op](lhs, rhs).astype(np.float64))


def _vector_scalar(
    op: str, vec: VectorSteps, scalar: F64, swap: bool, return_bool: bool, drops: frozenset[str]
) -> VectorSteps:
    out: list[StepSeries] = []
    with np.errstate(all="ignore"):
        for s in vec.series:
            lv, rv = (scalar, s.values) if swap else (s.values, scalar)
            if op in ARITHMETIC:
                labels = drop_name(s.labels) if op in drops else s.labels
                out.append(StepSeries(labels, ARITHMETIC[op](lv, rv), s.present))
                continue
            keep = COMPARISON[op](lv, rv)
            if return_bool:
                out.append(StepSeries(drop_name(s.labels), keep.astype(np.float64), s.present))
            else:
                out.append(StepSeries(s.labels, s.values, s.present & keep))
    if op in ARITHMETIC or return_bool:
        return VectorSteps(merge_same_labels(out))
    return VectorSteps(out)


class _Matching:
    def __init__(self, modifier: Any) -> None:
        matching = None if modifier is None else modifier.matching
        self.on = matching is not None and matching.type == promql_parser.LabelModifierType.Include
        self.names: tuple[str, ...] = tuple(sorted(matching.labels)) if matching is not None else ()
        self.ignored = frozenset(self.names)

    def signature(self, labels: Labels) -> Labels:
        if self.on:
            return tuple((n, labels_get(labels, n)) for n in self.names)
        return tuple(p for p in labels if p[0] != METRIC_NAME and p[0] not in self.ignored)

    def result_labels(self, labels: Labels, drop: bool) -> Labels:
        if drop:
            labels = drop_name(labels)
        if self.on:
            return tuple(p for p in labels if p[0] in self.ignored)
        return tuple(p for p in labels if p[0] not in self.ignored)


def _union_presence(
    series: list[StepSeries], sig: Callable[[Labels], Labels], n: int
) -> dict[Labels, np.ndarray]:
    masks: dict[Labels, np.ndarray] = {}
    for s in series:
        key = sig(s.labels)
        masks[key] = masks.get(key, np.zeros(n, dtype=np.bool_)) | s.present
    return masks


def _set_op(op: str, lhs: VectorSteps, rhs: VectorSteps, m: _Matching, n: int) -> VectorSteps:
    if op == "or":
        lhs_masks = _union_presence(lhs.series, m.signature, n)
        out = list(lhs.series)
        for s in rhs.series:
            mask = lhs_masks.get(m.signature(s.labels))
            present = s.present if mask is None else s.present & ~mask
            if present.any():
                out.append(StepSeries(s.labels, s.values, present))
        return VectorSteps(merge_same_labels(out))
    rhs_masks = _union_presence(rhs.series, m.signature, n)
    out = []
    none = np.zeros(n, dtype=np.bool_)
    for s in lhs.series:
        mask = rhs_masks.get(m.signature(s.labels), none)
        present = s.present & mask if op == "and" else s.present & ~mask
        if present.any():
            out.append(StepSeries(s.labels, s.values, present))
    return VectorSteps(out)


def _match_labels(labels: Labels, m: _Matching) -> Labels:
    """Prometheus' ``Labels.MatchLabels``: the labels a match group is identified by (for messages)."""
    if m.on:
        return tuple(p for p in labels if p[0] in m.ignored)
    return tuple(p for p in labels if p[0] != METRIC_NAME and p[0] not in m.ignored)


def _result_labels(
    many: Labels, one: Labels, m: _Matching, *, card: str, include: tuple[str, ...], drop: bool
) -> Labels:
    """Prometheus 2.42 ``resultMetric``."""
    labels = dict(many)
    if drop:
        labels.pop(METRIC_NAME, None)
    if card == "one-to-one":
        labels = {k: v for k, v in labels.items() if (k in m.ignored) == m.on}
    if include:
        theirs = dict(one)
        for name in include:
            value = theirs.get(name, "")
            if value:
                labels[name] = value
            else:
                labels.pop(name, None)
    return tuple(sorted(labels.items()))


def _vector_match(
    op: str,
    lhs: VectorSteps,
    rhs: VectorSteps,
    m: _Matching,
    *,
    card: str,
    include: tuple[str, ...],
    return_bool: bool,
    drops: frozenset[str] = DROPS_NAME,
) -> VectorSteps:
    """One-to-one, many-to-one (``card="many-to-one"``) and one-to-many matching, Prometheus 2.42
    ``VectorBinop``: the "one" side must be unique per match group; results must be unique."""
    swapped = card == "one-to-many"
    many_side, one_side = (rhs, lhs) if swapped else (lhs, rhs)
    one_name = "left" if swapped else "right"
    right: dict[Labels, StepSeries] = {}
    for s in one_side.series:
        key = m.signature(s.labels)
        prev = right.get(key)
        if prev is None:
            right[key] = s
            continue
        if (prev.present & s.present).any():
            raise QueryExecutionError(
                f"found duplicate series for the match group {_fmt(_match_labels(s.labels, m))} on the "
                f"{one_name} hand-side of the operation: [{_fmt(s.labels)}, {_fmt(prev.labels)}]"
                ";many-to-many matching not allowed: matching labels must be unique on one side"
            )
        right[key] = StepSeries(
            s.labels, np.where(s.present, s.values, prev.values), prev.present | s.present
        )
    used: dict[Labels, np.ndarray] = {}
    produced: dict[tuple[Labels, Labels], np.ndarray] = {}
    out: list[StepSeries] = []
    drop = op in drops
    with np.errstate(all="ignore"):
        for s in many_side.series:
            key = m.signature(s.labels)
            r = right.get(key)
            if r is None:
                continue
            both = s.present & r.present
            if not both.any():
                continue
            lv, rv = (r.values, s.values) if swapped else (s.values, r.values)
            if op in ARITHMETIC:
                values, keep = ARITHMETIC[op](lv, rv), both
            else:
                cmp = COMPARISON[op](lv, rv)
                values, keep = (cmp.astype(np.float64), both) if return_bool else (lv, both & cmp)
            if not keep.any():
                continue
            labels = _result_labels(s.labels, r.labels, m, card=card, include=include, drop=drop)
            if return_bool:
                labels = drop_name(labels)
            if card == "one-to-one":
                prior = used.get(key)
                if prior is not None and (prior & keep).any():
                    raise QueryExecutionError(
                        "multiple matches for labels: many-to-one matching must be explicit "
                        "(group_left/group_right)"
                    )
                used[key] = keep if prior is None else prior | keep
            else:
                prior = produced.get((key, labels))
                if prior is not None and (prior & keep).any():
                    raise QueryExecutionError(
                        "multiple matches for labels: grouping labels must ensure unique matches"
                    )
                produced[(key, labels)] = keep if prior is None else prior | keep
            out.append(StepSeries(labels, values, keep))
    return VectorSteps(merge_same_labels(out))


def binary(ctx: EvalContext, node: Any, lhs: EvalValue, rhs: EvalValue) -> EvalValue:
    op = str(node.op).lower()
    modifier = node.modifier
    return_bool = bool(modifier is not None and modifier.return_bool)
    if op not in ARITHMETIC and op not in COMPARISON and op not in SET_OPS:
        raise UnsupportedError(f"binary operator {op} is not supported yet")
    if isinstance(lhs, ScalarSteps) and isinstance(rhs, ScalarSteps):
        return _scalar_scalar(op, lhs.values, rhs.values)
    drops = DROPS_NAME_3 if ctx.semantics.atan2_drops_name else DROPS_NAME
    if isinstance(lhs, VectorSteps) and isinstance(rhs, ScalarSteps):
        return _vector_scalar(op, lhs, rhs.values, swap=False, return_bool=return_bool, drops=drops)
    if isinstance(lhs, ScalarSteps) and isinstance(rhs, VectorSteps):
        return _vector_scalar(op, rhs, lhs.values, swap=True, return_bool=return_bool, drops=drops)
    if isinstance(lhs, VectorSteps) and isinstance(rhs, VectorSteps):
        m = _Matching(modifier)
        if op in SET_OPS:
            return _set_op(op, lhs, rhs, m, ctx.num_steps)
        card = "one-to-one"
        if modifier is not None and modifier.card == promql_parser.VectorMatchCardinality.ManyToOne:
            card = "many-to-one"
        elif modifier is not None and modifier.card == promql_parser.VectorMatchCardinality.OneToMany:
            card = "one-to-many"
        include = tuple(modifier.group_labels or ()) if modifier is not None and card != "one-to-one" else ()
        return _vector_match(
            op, lhs, rhs, m, card=card, include=include, return_bool=return_bool, drops=drops
        )
    raise QueryExecutionError(f"binary operator {op} is not defined between these operand types")
