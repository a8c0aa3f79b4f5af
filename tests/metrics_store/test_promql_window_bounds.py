"""Range windows found by counting (non-decreasing reference times) equal those found by searching."""

from __future__ import annotations

import numpy as np
import pytest

from metrics_store.promql._selectors import _window_bounds


@pytest.mark.parametrize("left_open", [False, True], ids=["2.x-closed", "3.x-left-open"])
@pytest.mark.parametrize("seed", range(20))
def test_counted_bounds_equal_searched_bounds(seed: int, left_open: bool) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 8))
    sizes = rng.integers(0, 40, n)
    per_series = [np.sort(rng.choice(10_000, int(k), replace=False)).astype(np.int64) for k in sizes]
    ref = np.sort(rng.integers(0, 11_000, int(rng.integers(1, 30)))).astype(np.int64)  # may repeat (@)
    starts = ref - int(rng.choice([0, 1, 250, 3_000]))
    _check(per_series, sizes, starts, ref, left_open)


@pytest.mark.parametrize("left_open", [False, True], ids=["2.x-closed", "3.x-left-open"])
@pytest.mark.parametrize("seed", range(20))
def test_evenly_spaced_steps_found_by_arithmetic(seed: int, left_open: bool) -> None:
    """Every range query without ``@``: evenly spaced reference times, samples before, on, between and
    after the steps (the step index of a sample is computed, not searched)."""
    rng = np.random.default_rng(1000 + seed)
    step = int(rng.choice([1, 7, 15_000]))
    ref = int(rng.integers(-50_000, 50_000)) + step * np.arange(int(rng.integers(1, 40)), dtype=np.int64)
    starts = ref - int(rng.choice([0, 1, step, 20 * step, 3 * step + 1]))
    lo_t, hi_t = int(starts[0]) - 3 * step - 2, int(ref[-1]) + 3 * step + 2
    sizes = rng.integers(0, 60, int(rng.integers(1, 8)))
    pool = np.concatenate([np.arange(lo_t, hi_t + 1, step), rng.integers(lo_t, hi_t + 1, 200)])
    per_series = [np.unique(rng.choice(pool, int(k))).astype(np.int64) for k in sizes]
    _check(per_series, np.array([len(t) for t in per_series]), starts, ref, left_open)


def _check(
    per_series: list[np.ndarray], sizes: np.ndarray, starts: np.ndarray, ref: np.ndarray, left_open: bool
) -> None:
    """``_window_bounds`` (indices into the concatenated samples) against a search in each series."""
    ts = np.concatenate(per_series) if per_series else np.empty(0, np.int64)
    lo, hi = _window_bounds(ts, sizes, starts, ref, left_open=left_open)
    offset = 0
    for k, t in enumerate(per_series):
        side = "right" if left_open else "left"  # 3.x: a sample exactly at the start is outside
        assert (lo[k] - offset).tolist() == np.searchsorted(t, starts, side=side).tolist()
        assert (hi[k] - offset).tolist() == np.searchsorted(t, ref, side="right").tolist()
        offset += len(t)
