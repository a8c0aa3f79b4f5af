"""The default forecaster out of sample on synthetic series: it beats the flat last-value forecast and the
seasonal-naive baseline on a noisy daily series, says None on cold start, and a level shift trips ADWIN and
a retraining after which it forecasts the new level."""

from __future__ import annotations

import math
import random

import pytest
from prometheus_client import CollectorRegistry

from remediation.predictive import (
    ForecastMetrics,
    HarmonicConfig,
    HarmonicForecaster,
    SeasonalNaive,
    default_forecaster,
)
from remediation.predictive.forecast import Forecaster

DAY = 86_400.0
STEP = 300.0  # 5-minute points, as NAB
HORIZON = 600.0  # forecasts one start-up-ish ahead


def daily(
    n_days: float, seed: int = 7, shift_at: float | None = None, shift: float = 0.0
) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    out = []
    for i in range(int(n_days * DAY / STEP)):
        t = i * STEP
        y = (
            100
            + 50 * math.sin(2 * math.pi * t / DAY)
            + 15 * math.sin(4 * math.pi * t / DAY)
            + rng.gauss(0, 8)
        )
        if shift_at is not None and t >= shift_at:
            y += shift
        out.append((t, max(0.0, y)))
    return out


def walk_forward(f: Forecaster, series: list[tuple[float, float]], score_from: float) -> float:
    """Mean absolute error of forecasts HORIZON ahead, each made before its target was fed."""
    steps = int(HORIZON / STEP)
    errs = []
    for i, (t, y) in enumerate(series):
        f.observe(t, y)
        if t >= score_from and i + steps < len(series):
            p = f.predict(series[i + steps][0])
            assert p is not None
            errs.append(abs(p - series[i + steps][1]))
    return sum(errs) / len(errs)


class LastValue:
    def __init__(self) -> None:
        self.v: float | None = None

    def fit(self, times: object, values: object) -> None:
        pass

    def observe(self, t: float, value: float) -> None:
        self.v = value

    def predict(self, at: float) -> float | None:
        return self.v


def test_beats_flat_and_seasonal_naive_out_of_sample() -> None:
    series = daily(6)
    ours = walk_forward(default_forecaster(), series, score_from=3 * DAY)
    flat = walk_forward(LastValue(), series, score_from=3 * DAY)
    naive = walk_forward(SeasonalNaive(DAY), series, score_from=3 * DAY)
    assert ours < 0.85 * flat, (ours, flat)
    assert ours < 0.85 * naive, (ours, naive)
    assert ours < 10.0  # noise sd is 8: the model is close to the irreducible error


def test_cold_start_answers_none_until_one_season() -> None:
    f = default_forecaster()
    assert f.predict(60.0) is None
    for t, y in daily(0.9):
        f.observe(t, y)
    assert f.predict(0.9 * DAY + 600) is None
    for t, y in daily(1.2)[int(0.9 * DAY / STEP) :]:
        f.observe(t, y)
    assert f.predict(1.2 * DAY + 600) is not None


def test_fit_on_history_then_forecast() -> None:
    series = daily(3)
    f = HarmonicForecaster()
    f.fit([t for t, _ in series], [y for _, y in series])
    assert f.fits == 1
    at = 3 * DAY + 6 * 3600  # the daily peak (sin = 1 at 6 h): 100 + 50 + 0
    p = f.predict(at)
    assert p is not None and p == pytest.approx(150, abs=12)


def test_level_shift_trips_drift_and_retraining() -> None:
    registry = CollectorRegistry()
    f = HarmonicForecaster(HarmonicConfig(), ForecastMetrics(registry))
    series = daily(6, shift_at=3.1 * DAY, shift=200.0)  # between two scheduled retrains
    for t, y in series[: int(3 * DAY / STEP)]:
        f.observe(t, y)
    fits_before = f.fits
    assert f.drifts == 0
    err_after = walk_forward(f, series[int(3 * DAY / STEP) :], score_from=4 * DAY)
    assert f.drifts >= 1
    assert f.fits > fits_before
    assert err_after < 20.0  # the +200 shift is learnt: error back near the noise
    assert registry.get_sample_value("paramedic_forecast_drifts_total") == f.drifts
    assert registry.get_sample_value("paramedic_forecast_fits_total", {"reason": "drift"}) >= 1


def test_river_measurably_serves_after_a_level_shift() -> None:
    """Why river is a dependency (docs/architecture.md): on the same shifted series, switching off its
    parts (ADWIN that never detects, an EWMean level that never moves) makes the forecasts from the shift on
    worse: each part helps, and without both the error is well above the default's."""
    series = daily(4.5, shift_at=3.1 * DAY, shift=200.0)
    frozen = 1e-9  # an EWMean that never leaves its first residual
    configs = {
        "default": HarmonicConfig(),
        "no ADWIN": HarmonicConfig(adwin_delta=1e-300),
        "no level": HarmonicConfig(level_fading=frozen),
        "neither": HarmonicConfig(adwin_delta=1e-300, level_fading=frozen),
    }
    errors = {}
    for name, cfg in configs.items():
        f = HarmonicForecaster(cfg)
        errors[name] = walk_forward(f, series, score_from=3.1 * DAY)
    assert errors["default"] < errors["no ADWIN"] and errors["default"] < errors["no level"], errors
    assert errors["default"] < 0.6 * errors["neither"], errors


def test_memory_is_bounded() -> None:
    f = HarmonicForecaster(HarmonicConfig(max_points=500, history_s=2 * DAY))
    for t, y in daily(4):
        f.observe(t, y)
    assert f.history_points <= 500
    f2 = HarmonicForecaster(HarmonicConfig(history_s=DAY, min_history_s=0.5 * DAY))
    for t, y in daily(3):
        f2.observe(t, y)
    assert f2.history_points <= DAY / STEP + 1


def test_huber_regressor_also_forecasts() -> None:
    series = daily(4)
    ours = walk_forward(HarmonicForecaster(HarmonicConfig(regressor="huber")), series, score_from=2 * DAY)
    assert ours < 12.0


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError):
        HarmonicConfig(period_s=0)
    with pytest.raises(ValueError):
        HarmonicConfig(level_fading=0)
