"""The Capacity page's chart coordinates (dashboard._capacity_chart), worked by hand."""

from __future__ import annotations

import pytest

from dashboard._capacity_chart import H, W, capacity_chart

DAY = 86400.0


def test_history_trend_total_and_n_plus_one_lines() -> None:
    data = {
        "at": DAY,
        "history": [[0.0, 0.0], [DAY, 500.0]],
        "memory": {"total_mib": 1000.0},
        "forecast": {
            "needed_by": 2 * DAY,
            "fit": {"origin": 0.0, "intercept_mib": 0.0, "slope_mib_per_day": 500.0},
            "n_plus_one_limit_mib": 500.0,
        },
    }
    chart = capacity_chart(data)
    assert chart is not None
    # x spans day 0 .. day 2 over W = 720; y spans 0 .. 1.05 * max(total 1000, trend at day 2 = 1000)
    assert chart.now_x == pytest.approx(W / 2)
    top = 1050.0
    assert chart.history == f"0.0,{H:.1f} 360.0,{H - 500 / top * H:.1f}"
    assert chart.trend == pytest.approx((0.0, H, W, H - 1000 / top * H))
    assert chart.total_y == pytest.approx(H - 1000 / top * H)
    assert chart.n_plus_one_y == pytest.approx(H - 500 / top * H)


def test_no_chart_without_history_or_capacity() -> None:
    assert capacity_chart({"history": [[0, 1]], "memory": {"total_mib": 10}}) is None
    assert capacity_chart({"history": [[0, 1], [1, 2]], "memory": {"total_mib": 0}}) is None
