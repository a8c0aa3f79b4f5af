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
    ts = np.concatenate(per_series) if per_series else np.empty(0, np.int64)
    ref = np.sort(rng.integers(0, 11_000, int(rng.integers(1, 30)))).astype(np.int64)  # may repeat (@)
    starts = ref - int(rng.choice([0, 1, 250, 3_000]))
    lo, hi = _window_bounds(ts, sizes, starts, ref, left_open=left_open)
    for k, t in enumerate(per_series):
        side = "right" if left_open else "left"  # 3.x: a sample exactly at the start is outside
        assert lo[k].tolist() == np.searchsorted(t, starts, side=side).tolist()
        assert hi[k].tolist() == np.searchsorted(t, ref, side="right").tolist()
