"""Vectorised reductions over per-step sample windows ``values[lo[i]:hi[i]]`` (windows may overlap)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from metrics_store.promql._steps import F64

__all__ = ["expand_windows", "window_reduce"]

IDX = npt.NDArray[np.intp]


def window_reduce(ufunc: np.ufunc, values: F64, lo: IDX, hi: IDX) -> F64:
    """``ufunc.reduce(values[lo[i]:hi[i]])`` for every i, in one C loop (``reduceat`` over interleaved
    bounds). Entries of empty windows are garbage: callers mask them with ``hi > lo``."""
    if len(lo) == 0:
        return np.empty(0, dtype=np.float64)
    padded = np.append(values, 0.0)  # so that hi == len(values) is a valid reduceat index
    bounds = np.empty(2 * len(lo), dtype=np.intp)
    bounds[0::2] = lo
    bounds[1::2] = hi
    out: F64 = ufunc.reduceat(padded, bounds)[0::2]
    return out


def expand_windows(lo: IDX, hi: IDX) -> tuple[IDX, IDX]:
    """Flatten all windows: ``(step_of, index)`` with one entry per (step, sample in that step's window)."""
    counts = hi - lo
    total = int(counts.sum())
    step_of = np.repeat(np.arange(len(lo), dtype=np.intp), counts)
    firsts = np.cumsum(counts) - counts
    index = np.repeat(lo, counts) + (np.arange(total, dtype=np.intp) - np.repeat(firsts, counts))
    return step_of, index
