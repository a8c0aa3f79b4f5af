"""Values as the evaluator carries them: every expression is evaluated once for *all* step timestamps.

* ``ScalarSteps``  — one float per step.
* ``VectorSteps``  — series, each with one value per step and a ``present`` mask (an instant vector per step;
  NaN is a legal value, so absence is the mask, never a NaN).
* ``RangeSteps``   — a range vector per step: each series keeps its raw samples (staleness markers removed)
  and, per step, the window ``[lo, hi)`` of sample indices that fall into that step's range.
* ``StringValue``  — a string literal.

Internal to the engine; not thread-shared (each query builds its own).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from metrics_store.model import METRIC_NAME, Labels
from metrics_store.promql.errors import QueryExecutionError

__all__ = [
    "F64",
    "I64",
    "EvalValue",
    "PackedRange",
    "RangeSeries",
    "RangeSteps",
    "ScalarSteps",
    "StepSeries",
    "StringValue",
    "VectorSteps",
    "drop_name",
    "merge_same_labels",
    "type_name",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]


@dataclass(slots=True)
class ScalarSteps:
    values: F64

    def num_samples(self) -> int:
        return len(self.values)


@dataclass(slots=True)
class StringValue:
    value: str

    def num_samples(self) -> int:
        return 1


@dataclass(slots=True)
class StepSeries:
    labels: Labels
    values: F64
    present: BOOL


@dataclass(slots=True)
class VectorSteps:
    series: list[StepSeries]

    def num_samples(self) -> int:
        return sum(int(np.count_nonzero(s.present)) for s in self.series)


@dataclass(slots=True)
class RangeSeries:
    labels: Labels
    timestamps_ms: I64
    values: F64
    lo: npt.NDArray[np.intp]
    hi: npt.NDArray[np.intp]


@dataclass(slots=True)
class PackedRange:
    """The samples of all series of a :class:`RangeSteps` in one buffer, as the matrix selector read them:
    row k (= ``series[k]``) has its samples at ``[start[k], end[k])`` of ``timestamps_ms``/``values`` (rows in
    buffer order; the buffer may hold samples of no row between them) and its step windows as absolute
    buffer indices ``[lo[k, i], hi[k, i])``. Lets per-series functions work on batches of rows without
    concatenating the series again."""

    timestamps_ms: I64
    values: F64
    start: npt.NDArray[np.intp]
    end: npt.NDArray[np.intp]
    lo: npt.NDArray[np.intp]
    hi: npt.NDArray[np.intp]


@dataclass(slots=True)
class RangeSteps:
    """``range_end_ms[i]`` is the (offset- and @-adjusted) end of step i's window; its start is
    ``range_end_ms[i] - range_ms``; both ends inclusive (Prometheus 2.x). ``packed``, when set, holds the
    same series and windows in one buffer (see :class:`PackedRange`)."""

    series: list[RangeSeries]
    range_ms: int
    range_end_ms: I64
    packed: PackedRange | None = None

    def num_samples(self) -> int:
        """Peak held at one step (a range vector is consumed step by step, as in Prometheus)."""
        if not self.series:
            return 0
        return int(self.held_per_step().max())

    def held_per_step(self) -> I64:
        """Samples in the windows of each step, all series together."""
        if self.packed is not None:
            held: I64 = (self.packed.hi - self.packed.lo).sum(axis=0, dtype=np.int64)
            return held
        per_step = np.zeros(len(self.range_end_ms), dtype=np.int64)
        for s in self.series:
            per_step += s.hi - s.lo
        return per_step


EvalValue = ScalarSteps | VectorSteps | RangeSteps | StringValue


def type_name(value: EvalValue) -> str:
    """Prometheus' name of the value type (as used in its error messages)."""
    if isinstance(value, ScalarSteps):
        return "scalar"
    if isinstance(value, VectorSteps):
        return "instant vector"
    if isinstance(value, RangeSteps):
        return "range vector"
    return "string"


def drop_name(labels: Labels) -> Labels:
    if labels and labels[0][0] == METRIC_NAME:
        return labels[1:]
    return tuple(p for p in labels if p[0] != METRIC_NAME)


def merge_same_labels(series: Iterable[StepSeries]) -> list[StepSeries]:
    """Merge series that ended up with the same label set (e.g. after dropping ``__name__``).

    Prometheus fails a step where two elements share a label set; series that are present at disjoint steps
    are one output series. Raises :class:`QueryExecutionError` on an overlap."""
    out: dict[Labels, StepSeries] = {}
    for s in series:
        prev = out.get(s.labels)
        if prev is None:
            out[s.labels] = s
            continue
        if bool((prev.present & s.present).any()):
            raise QueryExecutionError("vector cannot contain metrics with the same labelset")
        out[s.labels] = StepSeries(
            s.labels, np.where(s.present, s.values, prev.values), prev.present | s.present
        )
    return list(out.values())
