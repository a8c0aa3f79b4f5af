"""The default load model: calendar harmonics fitted with scikit-learn, a level kept online with river, and
river's ADWIN on the forecast error deciding when the fit is stale.

* **Batch part (scikit-learn)** — ``y(t) ≈ b + Σ_k a_k sin(2πkt/P) + c_k cos(2πkt/P)`` for the daily period P
  (and the weekly one once two weeks of history are held), fitted by a regulated linear regressor
  (``Ridge`` or ``HuberRegressor``; chosen on the bench's tuning traces, see ``bench/capacity.py``) on the
  windowed history. Retrained every ``retrain_every_s`` and whenever drift is detected.
* **Online part (river)** — ``stats.EWMean`` of the residual ``y − fit(t)``: between retrains it moves the
  level to where the series is now (a shifted day, a slow trend) at the cost of one update per point.
* **Staleness (river)** — ``drift.ADWIN`` on the absolute one-step error. A detected change means the old
  fit describes another regime: history older than ADWIN's kept window is dropped and the model is retrained
  on what remains (keeping the daily shape and re-estimating only the level while less than
  ``min_history_s`` is left).

Memory is bounded: at most ``history_s`` of points, at most ``max_points`` of them. ``predict`` evaluates
the fitted harmonics directly (a few ``math.sin`` calls, no sklearn call per prediction).
"""

from __future__ import annotations

import math
import time as _time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from remediation.predictive._metrics import ForecastMetrics

if TYPE_CHECKING:
    from river import drift, stats

__all__ = ["HarmonicConfig", "HarmonicForecaster"]

_WEEK_S = 7 * 86_400.0


@dataclass(frozen=True)
class HarmonicConfig:
    period_s: float = 86_400.0
    harmonics: int = 4  # daily terms
    weekly_harmonics: int = 2  # used once 2 weeks of history are held
    regressor: Literal["ridge", "huber"] = (
        "huber"  # chosen on the bench's tuning half (vs ridge, 2/4/8 terms)
    )
    alpha: float = 1.0
    history_s: float = 14 * 86_400.0
    max_points: int = 30_000
    max_fit_points: int = 4_000  # history is strided down to this many points for a fit
    min_history_s: float = 86_400.0  # cold start: no forecast before one period of history
    retrain_every_s: float = 6 * 3_600.0
    level_fading: float = 0.05  # river EWMean fading factor of the residual (per observed point)
    adwin_delta: float = 0.002

    def __post_init__(self) -> None:
        if self.period_s <= 0 or self.history_s <= 0 or self.min_history_s < 0:
            raise ValueError("period_s and history_s must be positive, min_history_s not negative")
        if self.harmonics < 0 or self.weekly_harmonics < 0 or self.max_points < 16:
            raise ValueError("harmonics must be ≥ 0 and max_points ≥ 16")
        if not 0 < self.level_fading <= 1:
            raise ValueError("level_fading must be in (0, 1]")


class HarmonicForecaster:
    """:class:`remediation.predictive.forecast.Forecaster` over calendar harmonics (see the module doc).

    Counters for tests and the bench: ``fits`` (batch trainings), ``drifts`` (ADWIN detections),
    ``fit_seconds`` (time spent training). Not thread-safe: one instance per series, fed from one task.
    """

    def __init__(self, config: HarmonicConfig | None = None, metrics: ForecastMetrics | None = None) -> None:
        self.config = config or HarmonicConfig()
        self.metrics = metrics
        self._reason = "cold-start"
        self._hist: deque[tuple[float, float]] = deque(maxlen=self.config.max_points)
        self._coef: tuple[float, ...] = ()
        self._intercept = 0.0
        self._weekly = 0
        self._trained_at: float | None = None
        self._level, self._adwin = _online_state(self.config)
        self.fits = 0
        self.drifts = 0
        self.fit_seconds = 0.0

    # -- features -------------------------------------------------------------------------------------
    def _row(self, t: float, weekly: int) -> list[float]:
        c = self.config
        out: list[float] = []
        for period, k_max in ((c.period_s, c.harmonics), (_WEEK_S, weekly)):
            w = 2.0 * math.pi * (t % period) / period
            for k in range(1, k_max + 1):
                out.append(math.sin(k * w))
                out.append(math.cos(k * w))
        return out

    def _base(self, t: float) -> float:
        return self._intercept + sum(
            a * x for a, x in zip(self._coef, self._row(t, self._weekly), strict=True)
        )

    @property
    def history_points(self) -> int:
        """Points held (bounded by ``history_s`` and ``max_points``)."""
        return len(self._hist)

    # -- Forecaster -----------------------------------------------------------------------------------
    def fit(self, times: Sequence[float], values: Sequence[float]) -> None:
        if len(times) != len(values):
            raise ValueError("times and values differ in length")
        self._hist.clear()
        for t, v in sorted(zip(times, values, strict=True)):
            self._hist.append((float(t), float(v)))
        self._trim()
        self._coef, self._intercept, self._trained_at = (), 0.0, None
        self._reason = "fit"
        self._train()

    def observe(self, t: float, value: float) -> None:
        if self._hist and t <= self._hist[-1][0]:
            return  # the model only moves forward
        self._hist.append((t, value))
        self._trim()
        if self._trained_at is None:
            self._train()
            return
        base = self._base(t)
        err = value - (base + self._level.get())
        self._level.update(value - base)
        self._adwin.update(abs(err))  # type: ignore[no-untyped-call]
        if self._adwin.drift_detected:
            self.drifts += 1
            self._reason = "drift"
            if self.metrics is not None:
                self.metrics.drifts.inc()
            keep_from = t - max(int(self._adwin.width), 60) * self._step()
            while self._hist and self._hist[0][0] < keep_from:
                self._hist.popleft()
            self._train()
        elif t - self._trained_at >= self.config.retrain_every_s:
            self._reason = "schedule"
            self._train()

    def predict(self, at: float) -> float | None:
        if self._trained_at is None:
            if self.metrics is not None:
                self.metrics.predictions.labels("cold").inc()
            return None
        if self.metrics is not None:
            self.metrics.predictions.labels("ok").inc()
        return max(0.0, self._base(at) + self._level.get())

    # -- internals ------------------------------------------------------------------------------------
    def _step(self) -> float:
        n = len(self._hist)
        return (self._hist[-1][0] - self._hist[0][0]) / (n - 1) if n > 1 else 60.0

    def _trim(self) -> None:
        horizon = self._hist[-1][0] - self.config.history_s if self._hist else 0.0
        while self._hist and self._hist[0][0] < horizon:
            self._hist.popleft()

    def _span(self) -> float:
        return self._hist[-1][0] - self._hist[0][0] if len(self._hist) > 1 else 0.0

    def _train(self) -> None:
        c = self.config
        span = self._span()
        if span < c.min_history_s and not self._coef:
            return  # cold start
        t0 = _time.perf_counter()
        stride = max(1, len(self._hist) // c.max_fit_points)
        pts = list(self._hist)[::stride]
        ts = np.fromiter((p[0] for p in pts), dtype=np.float64)
        ys = np.fromiter((p[1] for p in pts), dtype=np.float64)
        if span >= c.min_history_s:
            self._weekly = c.weekly_harmonics if span >= 2 * _WEEK_S else 0
            x = np.array([self._row(float(t), self._weekly) for t in ts], dtype=np.float64).reshape(
                len(ts), -1
            )
            self._coef, self._intercept = self._regress(x, ys)
        else:  # after a drift with little history left: keep the shape, re-estimate the level
            shape = np.array([self._base(float(t)) - self._intercept for t in ts])
            self._intercept = float(np.median(ys - shape))
        self._level, self._adwin = _online_state(c)
        self._trained_at = self._hist[-1][0]
        self.fits += 1
        elapsed = _time.perf_counter() - t0
        self.fit_seconds += elapsed
        if self.metrics is not None:
            self.metrics.fits.labels(self._reason).inc()
            self.metrics.fit_seconds.observe(elapsed)

    def _regress(
        self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
    ) -> tuple[tuple[float, ...], float]:
        if x.shape[1] == 0:
            return (), float(np.mean(y))
        # scikit-learn (with scipy, ~60 MB resident) is imported by the first fit, not by every server that
        # loads this module with its configuration and never forecasts
        from sklearn.linear_model import HuberRegressor, Ridge  # noqa: PLC0415

        if self.config.regressor == "huber":
            scale = float(np.std(y)) or 1.0
            huber = HuberRegressor(alpha=self.config.alpha * 1e-3, max_iter=200).fit(x, y / scale)
            return tuple(float(a) * scale for a in huber.coef_), float(huber.intercept_) * scale
        ridge = Ridge(alpha=self.config.alpha).fit(x, y)
        return tuple(float(a) for a in ridge.coef_), float(ridge.intercept_)


def _online_state(c: HarmonicConfig) -> tuple[stats.EWMean, drift.ADWIN]:
    """A fresh residual level and drift detector. river (with scipy and scikit-learn, ~95 MB resident) is
    imported by the first forecaster, not by every server that only loads this module's configuration."""
    from river import drift, stats  # noqa: PLC0415

    return stats.EWMean(fading_factor=c.level_fading), drift.ADWIN(delta=c.adwin_delta)  # type: ignore[no-untyped-call]
