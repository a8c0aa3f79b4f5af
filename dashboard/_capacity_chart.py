"""The Capacity page's chart as SVG coordinates: allocated memory over the history, its fitted trend extended
to the horizon, the cells' total and the N+1 limit. Pure; the template draws the shapes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CapacityChart", "H", "W", "capacity_chart"]

W, H = 720.0, 200.0
_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class CapacityChart:
    history: str  # polyline points
    trend: tuple[float, float, float, float] | None  # x1, y1, x2, y2
    total_y: float
    n_plus_one_y: float | None
    now_x: float


def capacity_chart(data: Mapping[str, Any]) -> CapacityChart | None:
    """The chart of an outlook's JSON data (None without two history points or capacity)."""
    history = data.get("history") or []
    total = float((data.get("memory") or {}).get("total_mib") or 0.0)
    forecast = data.get("forecast") or {}
    if len(history) < 2 or total <= 0:
        return None
    t0, now = float(history[0][0]), float(data.get("at") or history[-1][0])
    t1 = max(float(forecast.get("needed_by") or now), now + _DAY)
    fit = forecast.get("fit")
    top = total
    if fit is not None:
        top = max(top, _fit(fit, t1))
    top = min(top, 2 * total) * 1.05

    def x(t: float) -> float:
        return (t - t0) / (t1 - t0) * W

    def y(v: float) -> float:
        return H - min(max(v / top, 0.0), 1.0) * H

    trend = None
    if fit is not None:
        trend = (x(t0), y(_fit(fit, t0)), x(t1), y(_fit(fit, t1)))
    limit = forecast.get("n_plus_one_limit_mib")
    return CapacityChart(
        history=" ".join(f"{x(float(t)):.1f},{y(float(v)):.1f}" for t, v in history),
        trend=trend,
        total_y=y(total),
        n_plus_one_y=None if limit is None else y(float(limit)),
        now_x=x(now),
    )


def _fit(fit: Mapping[str, Any], t: float) -> float:
    return float(fit["intercept_mib"]) + float(fit["slope_mib_per_day"]) * (t - float(fit["origin"])) / _DAY
