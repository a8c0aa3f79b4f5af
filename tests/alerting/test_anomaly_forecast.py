"""The autoregression on first differences that the ensemble uses as one more predictor."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from river import time_series

from alerting.anomaly import EnsembleConfig, EnsembleDetector
from alerting.anomaly._forecast import DiffAutoregression

T0 = datetime(2024, 1, 1)
STEP = timedelta(minutes=5)


def test_no_forecast_before_the_first_value() -> None:
    ar = DiffAutoregression(3, 0.01)
    assert ar.forecast() is None
    ar.learn(5.0)
    assert ar.forecast() == 5.0  # nothing learnt about the differences yet: the last value


def test_order_must_be_positive() -> None:
    with pytest.raises(ValueError, match="order"):
        DiffAutoregression(0, 0.01)


def test_forecast_follows_a_ramp() -> None:
    ar = DiffAutoregression(3, 0.01)
    for i in range(400):
        ar.learn(2.0 * i)
    fc = ar.forecast()
    assert fc is not None
    assert abs(fc - 800.0) < 0.01  # the EWMA level would lag by slope * (1 - alpha) / alpha = 18


def test_forecast_learns_an_alternating_step() -> None:
    ar = DiffAutoregression(3, 0.01)
    values = [10.0 if i % 2 else 0.0 for i in range(3000)]
    for v in values:
        ar.learn(v)
    fc = ar.forecast()
    assert fc is not None
    assert abs(fc - 0.0) < 1.0  # last value 10, next 0: the lags carry the alternation


def _ramp_error(config: EnsembleConfig) -> float:
    det = EnsembleDetector(config)
    for i in range(500):
        det.process(2.0 * i, T0 + i * STEP)
    return det._error(1000.0, T0 + 500 * STEP)


def test_ensemble_explains_a_ramp_by_the_forecast() -> None:
    with_ar = _ramp_error(EnsembleConfig())
    without = _ramp_error(EnsembleConfig(ar_order=0))
    assert with_ar < 1e-4
    assert without > 0.005  # the EWMA level and the seasonal baselines all lag behind a ramp (~6 units)


def test_forecasts_equal_river_snarimax() -> None:
    """The plain-Python model is river's ``SNARIMAX(p, d=1, q=0)`` with its default regressor: river itself
    (a runtime dependency) gives the reference forecasts on a noisy, trending, periodic series."""
    rng = random.Random(7)
    values = [math.sin(i / 9.0) * 10 + rng.gauss(0, 1) + 0.05 * i for i in range(600)]
    reference: Any = time_series.SNARIMAX(p=3, d=1, q=0)  # river ships no type hints for its methods
    ar = DiffAutoregression(3, 0.01)
    for i, y in enumerate(values):
        reference.learn_one(y)
        ar.learn(y)
        if i >= 5:
            assert ar.forecast() == pytest.approx(reference.forecast(horizon=1)[0], rel=1e-9, abs=1e-9)
