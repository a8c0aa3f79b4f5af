"""One app's forecasting state in the predictive policy: its forecaster (from the injectable factory), its
forecast ledger, and how history is fed to both in time order.

Cold start: the history before the warm-up tail trains the model (``fit``); the tail (``error_window + 1``
intervals plus ``startup``) is then fed point by point exactly as live points are, forecasting ``startup``
ahead of each, so the first decision already knows the model's out-of-sample error. Every ``season`` the
model is retrained from scratch on the whole history window; in between it learns online (``observe``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from remediation.predictive import default_forecaster
from remediation.predictive.forecast import ForecasterFactory
from remediation.predictive.policy import ForecastLedger
from remediation.predictive.policy_config import PredictiveSpec

__all__ = ["AppModel", "FactoryFor", "default_factory"]

FactoryFor = Callable[[PredictiveSpec], ForecasterFactory]


def default_factory(spec: PredictiveSpec) -> ForecasterFactory:
    """The forecaster of a predictive policy: the learned seasonal model
    (:func:`remediation.predictive.default_forecaster`: scikit-learn harmonics, river level and drift) over
    the policy's ``season``."""
    return lambda: default_forecaster(spec.season)


class AppModel:
    def __init__(self, spec: PredictiveSpec, factory: ForecasterFactory) -> None:
        self.spec = spec
        self._factory = factory
        self.forecaster = factory()
        self.ledger = ForecastLedger(spec.interval, spec.error_window)
        self.last_t: float | None = None  # newest point fed
        self.last_value: float | None = None
        self.fitted_at: float | None = None
        self.forecast: float | None = None  # the newest forecast, for last_t + startup

    @property
    def warmup_s(self) -> float:
        return (self.spec.error_window + 1) * self.spec.interval + self.spec.startup

    def needs_fit(self, now: float) -> bool:
        return self.fitted_at is None or now - self.fitted_at >= self.spec.season

    def fit(self, points: Sequence[tuple[float, float]], now: float) -> None:
        """(Re)train on ``points`` (time ordered). The first fit also warms the ledger on the tail."""
        first = self.fitted_at is None
        self.forecaster = self._factory()
        split = len(points)
        if first:
            cut = now - self.warmup_s
            split = next((i for i, (t, _) in enumerate(points) if t >= cut), len(points))
        train = points[:split]
        if train:  # no history at all: the fresh model learns online from the first point on
            self.forecaster.fit([t for t, _ in train], [v for _, v in train])
            self.last_t, self.last_value = train[-1]
        self.fitted_at = now
        self.feed(points[split:])
        if split == len(points) and self.last_t is not None:
            self.forecast = self.forecaster.predict(self.last_t + self.spec.startup)

    def feed(self, points: Sequence[tuple[float, float]]) -> list[tuple[float, float, float]]:
        """Newer points in time order: each matures earlier forecasts, then teaches the model, then is the
        base of a forecast ``startup`` ahead. Returns the pairs matured (target time, forecast, actual)."""
        matured: list[tuple[float, float, float]] = []
        for t, v in points:
            if self.last_t is not None and t <= self.last_t:
                continue
            matured.extend(self.ledger.actual(t, v))
            self.forecaster.observe(t, v)
            self.last_t, self.last_value = t, v
            self.forecast = self.forecaster.predict(t + self.spec.startup)
            if self.forecast is not None:
                self.ledger.forecast(t + self.spec.startup, self.forecast)
        return matured
