"""Growth of allocated capacity over time: a robust straight line through the history, and when it crosses a
limit.

scikit-learn's :class:`~sklearn.linear_model.HuberRegressor` fits ``allocated = a + b * t``: squared loss for
small residuals, absolute loss for large ones, so a burst of deployments, a drained cell or a blue-green
deployment's double allocation (hours of outliers in weeks of history) bends the trend far less than
ordinary least squares (or PromQL's ``predict_linear``) would. Time is in days from the first point, values
in MiB scaled to the history's spread (Huber's ``epsilon`` is relative to the residuals' scale, which it
estimates with the fit).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_POINTS", "GrowthFit", "crossing_time", "fit_growth"]

MIN_POINTS = 6  # fewer points than this: no trend is claimed
_DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class GrowthFit:
    """``value(t) = intercept + slope_per_day * (t - origin_s) / 86400`` over ``points`` history points from
    ``origin_s`` to ``last_s`` (Unix seconds)."""

    origin_s: float
    last_s: float
    intercept: float
    slope_per_day: float
    points: int

    def value_at(self, t_s: float) -> float:
        return self.intercept + self.slope_per_day * (t_s - self.origin_s) / _DAY_S


def fit_growth(times_s: Sequence[float], values: Sequence[float]) -> GrowthFit | None:
    """The robust linear trend of ``values`` over ``times_s`` (None: fewer than :data:`MIN_POINTS` finite
    points, or all at one time)."""
    pairs = [(t, v) for t, v in zip(times_s, values, strict=True) if math.isfinite(t) and math.isfinite(v)]
    if len(pairs) < MIN_POINTS:
        return None
    t = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs], dtype=float)
    origin = float(t.min())
    days = (t - origin) / _DAY_S
    if float(days.max()) <= 0:
        return None
    center, scale = float(y.mean()), float(y.std()) or 1.0
    if float(y.std()) == 0.0:  # a flat history: exactly level, Huber's scale estimate would be 0
        return GrowthFit(origin, float(t.max()), center, 0.0, len(pairs))
    # scikit-learn (~60 MB resident) is imported by the first fit, not by every server that never forecasts
    from sklearn.linear_model import HuberRegressor  # noqa: PLC0415

    model = HuberRegressor(epsilon=1.35, alpha=0.0, max_iter=500)
    model.fit(days.reshape(-1, 1), (y - center) / scale)
    return GrowthFit(
        origin_s=origin,
        last_s=float(t.max()),
        intercept=center + float(model.intercept_) * scale,
        slope_per_day=float(model.coef_[0]) * scale,
        points=len(pairs),
    )


def crossing_time(fit: GrowthFit, limit: float, now_s: float) -> float | None:
    """When the trend reaches ``limit`` (Unix seconds; ``now_s`` if already there), or None if it never does
    (flat or shrinking below it)."""
    if fit.value_at(now_s) >= limit:
        return now_s
    if fit.slope_per_day <= 0:
        return None
    return fit.origin_s + (limit - fit.intercept) / fit.slope_per_day * _DAY_S
