"""Binary operators: arithmetic, comparison (filter or ``bool``), set operators, with Prometheus 2.42
semantics for scalar/scalar, vector/scalar and vector/vector (one-to-one matching with ``on``/``ignoring``;
``and``/``or``/``unless`` many-to-many). ``group_left``/``group_right`` are not supported yet."""

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


def _fmt(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}"


def _scalar_scalar(op: str, lhs: F64, rhs: F64) -> ScalarSteps:
    with np.errstate(all="ignore"):
        if op in ARITHMETIC:
            return ScalarSteps(ARITHMETIC[op](lhs, rhs))
        return ScalarSteps(COMPARISON[op](lhs, rhs).astype(np.float64))


def _vector_scalar(op: str, vec: VectorSteps, scalar: F64, swap: bool, return_bool: bool) -> VectorSteps:
    out: list[StepSeries] = []
    with np.errstate(all="ignore"):
        for s in vec.series:
            lv, rv = (scalar, s.values) if swap else (s.values, scalar)
            if op in ARITHMETIC:
                out.append(StepSeries(drop_name(s.labels), ARITHMETIC[op](lv, rv), s.present))
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


def _one_to_one(
    op: str, lhs: VectorSteps, rhs: VectorSteps, m: _Matching, *, return_bool: bool
) -> VectorSteps:
    right: dict[Labels, StepSeries] = {}
    for s in rhs.series:
        key = m.signature(s.labels)
        prev = right.get(key)
        if prev is None:
            right[key] = s
            continue
        if (prev.present & s.present).any():
            raise QueryExecutionError(
                f"found duplicate series for the match group {_fmt(key)} on the right hand-side of the "
                f"operation: [{_fmt(prev.labels)}, {_fmt(s.labels)}];many-to-many matching not allowed: "
                "matching labels must be unique on one side"
            )
        right[key] = StepSeries(
            s.labels, np.where(s.present, s.values, prev.values), prev.present | s.present
        )
    used: dict[Labels, np.ndarray] = {}
    out: list[StepSeries] = []
    drop = op in ARITHMETIC or return_bool
    with np.errstate(all="ignore"):
        for s in lhs.series:
            key = m.signature(s.labels)
            r = right.get(key)
            if r is None:
                continue
            both = s.present & r.present
            if not both.any():
                continue
            prior = used.get(key)
            if prior is not None and (prior & both).any():
                raise QueryExecutionError(
                    "multiple matches for labels: many-to-one matching must be explicit "
                    "(group_left/group_right)"
                )
            used[key] = both if prior is None else prior | both
            labels = m.result_labels(s.labels, drop)
            if op in ARITHMETIC:
                out.append(StepSeries(labels, ARITHMETIC[op](s.values, r.values), both))
                continue
            keep = COMPARISON[op](s.values, r.values)
            if return_bool:
                out.append(StepSeries(labels, keep.astype(np.float64), both))
            elif (both & keep).any():
                out.append(StepSeries(labels, s.values, both & keep))
    return VectorSteps(merge_same_labels(out))


def binary(ctx: EvalContext, node: Any, lhs: EvalValue, rhs: EvalValue) -> EvalValue:
    op = str(node.op).lower()
    modifier = node.modifier
    return_bool = bool(modifier is not None and modifier.return_bool)
    if op not in ARITHMETIC and op not in COMPARISON and op not in SET_OPS:
        raise UnsupportedError(f"binary operator {op} is not supported yet")
    if isinstance(lhs, ScalarSteps) and isinstance(rhs, ScalarSteps):
        return _scalar_scalar(op, lhs.values, rhs.values)
    if isinstance(lhs, VectorSteps) and isinstance(rhs, ScalarSteps):
        return _vector_scalar(op, lhs, rhs.values, swap=False, return_bool=return_bool)
    if isinstance(lhs, ScalarSteps) and isinstance(rhs, VectorSteps):
        return _vector_scalar(op, rhs, lhs.values, swap=True, return_bool=return_bool)
    if isinstance(lhs, VectorSteps) and isinstance(rhs, VectorSteps):
        if modifier is not None and modifier.card in (
            promql_parser.VectorMatchCardinality.ManyToOne,
            promql_parser.VectorMatchCardinality.OneToMany,
        ):
            raise UnsupportedError("group_left/group_right vector matching is not supported yet")
        m = _Matching(modifier)
        if op in SET_OPS:
            return _set_op(op, lhs, rhs, m, ctx.num_steps)
        return _one_to_one(op, lhs, rhs, m, return_bool=return_bool)
    raise QueryExecutionError(f"binary operator {op} is not defined between these operand types")
