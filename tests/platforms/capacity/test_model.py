"""The capacity arithmetic against hand-worked figures (the comments show the working)."""

from __future__ import annotations

import numpy as np
import pytest

from platforms.capacity import CellCapacity, cells_to_add, chunks_free, crossing_time, fit_growth, n_plus_one

CHUNK = 1024.0


def _cells(a_remaining: float) -> list[CellCapacity]:
    return [
        CellCapacity("a", 8192, a_remaining, containers_total=10, containers_remaining=2),
        CellCapacity("b", 6144, 3000, containers_total=10, containers_remaining=7),
        CellCapacity("c", 4096, 3072, containers_total=6, containers_remaining=5),
    ]


def test_free_chunks_are_counted_per_cell_never_across_cells() -> None:
    # floor(2500/1024) + floor(1023/1024) + floor(4096/1024) = 2 + 0 + 4; the sum 7619 would hold 7
    assert chunks_free([2500, 1023, 4096], CHUNK) == 6
    assert chunks_free([-5, None], CHUNK) == 0
    with pytest.raises(ValueError, match="chunk_mib"):
        chunks_free([1.0], 0)


def test_n_plus_one_lost_when_the_biggest_cells_instances_do_not_fit_elsewhere() -> None:
    # free chunks: a 1 (1500), b 2 (3000), c 3 (3072) = 6
    # losing a: 6 - 1 - ceil(6692/1024 = 6.5) 7 = -2
    # losing b: 6 - 2 - ceil(3144/1024) 4 = 0 ; losing c: 6 - 3 - 1 = 2
    result = n_plus_one(_cells(1500), CHUNK)
    assert result is not None
    assert (result.survives, result.worst_cell, result.headroom_chunks) == (False, "a", -2)
    # MiB: free 1500 + 3000 + 3072 = 7572, minus a's own free 1500 and its allocation 6692
    assert result.headroom_mib == pytest.approx(-620)


def test_n_plus_one_holds_with_zero_chunks_to_spare() -> None:
    # a keeps 4000 free: a 3, b 2, c 3 = 8 chunks; losing a: 8 - 3 - ceil(4192/1024) 5 = 0 -> survives
    result = n_plus_one(_cells(4000), CHUNK)
    assert result is not None
    assert (result.survives, result.worst_cell, result.headroom_chunks) == (True, "a", 0)
    # containers: free 2 + 7 + 5 = 14; losing a: 14 - 2 - 8 = 4, b: 14 - 7 - 3 = 4, c: 14 - 5 - 1 = 8
    assert result.containers_headroom == 4


def test_no_n_plus_one_for_a_single_cell_and_unknown_containers_stay_unknown() -> None:
    assert n_plus_one([CellCapacity("only", 8192, 100)], CHUNK) is None
    two = n_plus_one([CellCapacity("x", 4096, 4096), CellCapacity("y", 4096, 2048)], CHUNK)
    assert two is not None and two.containers_headroom is None


def test_cells_to_add_keeps_n_plus_one_with_a_chunk_to_spare() -> None:
    cells = _cells(4000)  # 8192 + 6144 + 4096 = 18432, without the biggest: 10240
    assert cells_to_add(9000, cells, CHUNK) == 0  # 9000 + 1024 <= 10240
    assert cells_to_add(15000, cells, CHUNK) == 1  # (15000 + 1024 - 10240) / 8192 = 0.71 -> 1
    assert cells_to_add(20000, cells, CHUNK) == 2  # 10784 / 8192 = 1.32 -> 2
    single = [CellCapacity("only", 8192, 0)]  # no N+1 with one cell: the allocation has to fit
    assert cells_to_add(7000, single, CHUNK) == 0  # 7000 + 1024 - 8192 < 0
    assert cells_to_add(7500, single, CHUNK) == 1


def test_the_robust_fit_ignores_a_burst_that_bends_least_squares() -> None:
    days = np.arange(0, 10, 1 / 24)
    values = 1000 + 50 * days
    values[100:112] += 4000  # half a day of double allocation (a blue-green deployment)
    fit = fit_growth(list(days * 86400), list(values))
    assert fit is not None
    assert fit.slope_per_day == pytest.approx(50, rel=0.02)
    ols_slope = float(np.polyfit(days, values, 1)[0])
    assert abs(ols_slope - 50) > 5 * abs(fit.slope_per_day - 50)


def test_crossing_time_of_a_line_and_of_flat_or_short_histories() -> None:
    days = np.arange(0, 7, 1 / 24)
    fit = fit_growth(list(days * 86400), list(1000 + 50 * days + np.where(np.arange(len(days)) % 2, 5, -5)))
    assert fit is not None
    # 1000 + 50 d = 2000 at d = 20
    assert crossing_time(fit, 2000, now_s=7 * 86400) == pytest.approx(20 * 86400, abs=0.05 * 86400)
    assert crossing_time(fit, 1100, now_s=7 * 86400) == 7 * 86400  # already past: now
    flat = fit_growth(list(days * 86400), [3000.0] * len(days))
    assert flat is not None and flat.slope_per_day == 0
    assert crossing_time(flat, 5000, now_s=0) is None
    assert fit_growth([0, 1, 2], [1, 2, 3]) is None  # fewer than MIN_POINTS
