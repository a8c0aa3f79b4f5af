"""Predictive scaling: load forecasts (``forecast``, ``harmonic``), the capacity simulator (``simulate``,
``policies``, ``trace``), the predictive policy.

:func:`default_forecaster` is the model the live policy and the simulator use.
"""

from __future__ import annotations

from remediation.predictive._metrics import ForecastMetrics
from remediation.predictive.forecast import Forecaster, ForecasterFactory, SeasonalNaive
from remediation.predictive.harmonic import HarmonicConfig, HarmonicForecaster

__all__ = [
    "ForecastMetrics",
    "Forecaster",
    "ForecasterFactory",
    "HarmonicConfig",
    "HarmonicForecaster",
    "SeasonalNaive",
    "default_forecaster",
]


def default_forecaster(period_s: float = 86_400.0, metrics: ForecastMetrics | None = None) -> Forecaster:
    """The default load model (calendar harmonics on scikit-learn, river level and ADWIN drift) for one
    series with the given season; settings chosen on the bench's tuning traces (``bench/capacity.py``).
    ``predict`` is None until one season of history was seen (cold start: scale reactively)."""
    config = HarmonicConfig(
        period_s=period_s,
        min_history_s=period_s,
        history_s=14 * period_s,  # the defaults' 14 days and 6 h, in seasons (the demo's day is minutes)
        retrain_every_s=period_s / 4,
    )
    return HarmonicForecaster(config, metrics)
