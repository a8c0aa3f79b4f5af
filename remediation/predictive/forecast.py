"""The forecasting seam: a load model of one series (one app's request rate or CPU), fed in time order.

Every forecaster answers ``predict(at)`` from what it has seen *before* ``at`` only: the simulator, the
benchmark and the live policy feed points in time order and ask ahead, so every figure is out of sample.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Protocol

__all__ = ["Forecaster", "ForecasterFactory", "SeasonalNaive"]


class Forecaster(Protocol):
    """One series' load model. ``fit`` (re)trains on history; ``observe`` adds one newer point (online);
    ``predict`` answers the value expected at ``at`` (later than the last point), or None while the model
    cannot forecast (cold start: the caller falls back to reactive scaling)."""

    def fit(self, times: Sequence[float], values: Sequence[float]) -> None: ...

    def observe(self, t: float, value: float) -> None: ...

    def predict(self, at: float) -> float | None: ...


ForecasterFactory = Callable[[], Forecaster]


class SeasonalNaive:
    """The textbook baseline: the value one season (``period_s``) before ``at``, taken from the last point at
    or before that time; None until a whole season has been seen."""

    def __init__(self, period_s: float = 86_400.0) -> None:
        if period_s <= 0:
            raise ValueError("period_s must be positive")
        self.period_s = period_s
        self._t: list[float] = []
        self._v: list[float] = []

    def fit(self, times: Sequence[float], values: Sequence[float]) -> None:
        if len(times) != len(values):
            raise ValueError("times and values differ in length")
        pairs = sorted(zip(times, values, strict=True))
        self._t = [t for t, _ in pairs]
        self._v = [v for _, v in pairs]

    def observe(self, t: float, value: float) -> None:
        if self._t and t <= self._t[-1]:
            return  # out of order or repeated: the model only moves forward
        self._t.append(t)
        self._v.append(value)
        cutoff = bisect.bisect_left(self._t, t - 2 * self.period_s)
        if cutoff > len(self._t) // 2:  # keep two seasons; trim in bulk
            del self._t[:cutoff], self._v[:cutoff]

    def predict(self, at: float) -> float | None:
        if not self._t or self._t[-1] - self._t[0] < self.period_s:
            return None
        i = bisect.bisect_right(self._t, at - self.period_s) - 1
        return self._v[i] if i >= 0 else None
