"""A range query's result as numpy arrays, before it becomes :class:`~metrics_store.promql.values.Matrix`.

The HTTP API renders JSON straight from these arrays (:func:`metrics_store._matrix_json.matrix_body`): a
Matrix holds every value as a Python float in a tuple (32 bytes each instead of 8; 2.4 M of them for 10,000
series × 240 steps, ~77 MB beside the body), which set the server's peak memory during large answers.
:meth:`ArrayMatrix.to_matrix` gives exactly the Matrix that :meth:`Engine.range_query` returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metrics_store.model import Labels
from metrics_store.promql._steps import F64, I64, VectorSteps
from metrics_store.promql.values import Matrix, Series

__all__ = ["ArrayMatrix", "ArraySeries"]


@dataclass(frozen=True, slots=True)
class ArraySeries:
    """One series: its timestamps (the matrix' ``steps`` object itself when present at every step) and its
    float64 values, both C-contiguous and of equal length."""

    labels: Labels
    timestamps_ms: I64
    values: F64


@dataclass(frozen=True, slots=True)
class ArrayMatrix:
    """Series sorted by label set, as :class:`Matrix` orders them; ``steps`` is the query's step grid."""

    steps: I64
    series: tuple[ArraySeries, ...]

    @classmethod
    def of_steps(cls, value: VectorSteps, steps: I64) -> ArrayMatrix:
        """The series of ``value`` present at one step at least, each cut to the steps it is present at."""
        out = []
        for s in value.series:
            if bool(s.present.all()):
                out.append(ArraySeries(s.labels, steps, np.ascontiguousarray(s.values, dtype=np.float64)))
            elif bool(s.present.any()):
                out.append(ArraySeries(s.labels, steps[s.present], s.values[s.present]))
        out.sort(key=lambda s: s.labels)
        return cls(steps, tuple(out))

    @classmethod
    def scalar(cls, values: F64, steps: I64) -> ArrayMatrix:
        """A scalar's steps as one series with no labels."""
        return cls(steps, (ArraySeries((), steps, np.ascontiguousarray(values, dtype=np.float64)),))

    def to_matrix(self) -> Matrix:
        """The same series as tuples; every series present at every step shares one timestamp tuple."""
        grid = tuple(self.steps.tolist())
        return Matrix(
            tuple(
                Series(
                    s.labels,
                    grid if s.timestamps_ms is self.steps else tuple(s.timestamps_ms.tolist()),
                    tuple(s.values.tolist()),
                )
                for s in self.series
            )
        )
