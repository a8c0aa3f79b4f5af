"""Simulator semantics on tiny synthetic traces; every expected figure is worked out by hand from the rules
(module docs of remediation.predictive.simulate and .policies) in the comment beside it.

Common setting: capacity 10 req/s per instance, start-up 120 s (2 steps), target utilisation 0.7,
breach 120 s (2 consecutive samples), cool-down 300 s (5 steps); minute i is at t = 60 i.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from remediation.predictive.forecast import Forecaster
from remediation.predictive.simulate import SimConfig, SimResult, default_capacity, simulate_policy
from remediation.predictive.trace import LoadTrace

CFG = SimConfig(
    capacity_per_instance=10.0, startup_s=120.0, target_utilization=0.7, min_instances=1, max_instances=10
)


def trace(values: Sequence[float]) -> LoadTrace:
    return LoadTrace(
        "<test>", 60.0 * np.arange(len(values), dtype=np.float64), np.asarray(values, dtype=np.float64)
    )


def run(
    values: Sequence[float], policy: str, forecaster: Callable[[], Forecaster] | None = None
) -> SimResult:
    return simulate_policy(trace(values), policy, CFG, forecaster)


class Oracle:
    """Knows the trace: predicts its true value (a perfect forecaster), or None (cold start), or 0."""

    def __init__(self, values: Sequence[float], mode: str = "true") -> None:
        self.values = list(values)
        self.mode = mode
        self.last = -1.0

    def fit(self, times: Sequence[float], values: Sequence[float]) -> None:
        pass

    def observe(self, t: float, value: float) -> None:
        self.last = t

    def predict(self, at: float) -> float | None:
        assert at > self.last, "a forecast must be for a time after the last point fed"
        if self.mode == "none":
            return None
        if self.mode == "zero":
            return 0.0
        i = min(len(self.values) - 1, round(at / 60.0))
        return self.values[i]


STEP_12 = [5.0] * 5 + [12.0] * 20  # 25 minutes
STEP_30 = [5.0] * 5 + [30.0] * 20


def test_reactive_breach_duration_startup_and_billing() -> None:
    r = run(STEP_12, "reactive")
    # start: ceil(5 / 7) = 1 instance. Utilisation 1.2 > 0.8 from minute 5; the 2nd breaching sample is
    # minute 6 → +1 at minute 6, ready at minute 8. Load 12 > 10 at minutes 5, 6, 7 → 3 violation minutes.
    # From minute 8 utilisation 0.6 is inside [0.4, 0.8]: no more actions.
    assert r.slo_violation_minutes == 3
    assert r.scale_actions == 1
    assert r.peak_instances == 2
    # billed: minutes 0..6 one instance (7), minutes 7..24 two (18 × 2 = 36): 43 instance-minutes.
    assert r.instance_hours == pytest.approx(43 / 60)
    assert r.minutes == 25


def test_reactive_cool_down_rescales_while_the_breach_lasts() -> None:
    r = run(STEP_30, "reactive")
    # minute 6: 1→2 (ready 8); cool-down until minute 11 (300 s); the breach never stops (1 instance: 3.0,
    # 2: 1.5, 3: 1.0) → minute 11: 2→3 (ready 13), minute 16: 3→4 (ready 18; 30/40 = 0.75 ends it).
    # Violations (30 > running × 10): minutes 5..7 (1 running) and 8..12 (2 running) = 8; 3 × 10 = 30 is not
    # more than 30.
    assert (r.slo_violation_minutes, r.scale_actions, r.peak_instances) == (8, 3, 4)
    # billed: 0..6 ×1 = 7, 7..11 ×2 = 10, 12..16 ×3 = 15, 17..24 ×4 = 32 → 64 instance-minutes
    assert r.instance_hours == pytest.approx(64 / 60)


def test_reactive_pct_steps_fifty_percent() -> None:
    r = run(STEP_30, "reactive-pct")
    # same timing; +50 %: 1→2 (ceil 0.5 = 1), 2→3 (+1), 3→5 (ceil 1.5 = 2) at minute 16.
    assert (r.slo_violation_minutes, r.scale_actions, r.peak_instances) == (8, 3, 5)


def test_reactive_scales_in_one_at_a_time_after_breach_and_cool_down() -> None:
    r = run([20.0] * 5 + [2.0] * 15, "reactive")
    # start ceil(20 / 7) = 3. Utilisation 2/30 < 0.4 from minute 5 → minute 6: 3→2; cool-down → minute 11:
    # 2→1 (the minimum). Billed 0..6 ×3 = 21, 7..11 ×2 = 10, 12..19 ×1 = 8 → 39.
    assert (r.slo_violation_minutes, r.scale_actions, r.peak_instances) == (0, 2, 3)
    assert r.instance_hours == pytest.approx(39 / 60)


def test_static_peak_provisioning() -> None:
    r = run(STEP_30, "static")
    # ceil(30 / 7) = 5 instances for all 25 minutes, from the first: no violation, no action.
    assert (r.slo_violation_minutes, r.scale_actions, r.peak_instances) == (0, 0, 5)
    assert r.instance_hours == pytest.approx(5 * 25 / 60)


def test_predictive_with_a_perfect_forecast_scales_ahead_of_the_load() -> None:
    r = run(STEP_30, "predictive", lambda: Oracle(STEP_30))
    # forecasts reach 180 s ahead: at minute 2 the forecast for minute 5 is 30 → ceil(30 / 7) = 5 at once,
    # ready at minute 4, before the load. The smaller size (1) only held minutes 0..1: no scale-in.
    assert (r.slo_violation_minutes, r.scale_actions, r.peak_instances) == (0, 1, 5)
    # billed: minutes 0..2 one instance, 3..24 five → 3 + 110 = 113
    assert r.instance_hours == pytest.approx(113 / 60)
    assert r.extra["forecast_minutes"] == 25


def test_predictive_cold_start_is_the_reactive_rule() -> None:
    cold = run(STEP_30, "predictive", lambda: Oracle(STEP_30, "none"))
    pct = run(STEP_30, "reactive-pct")
    assert (cold.slo_violation_minutes, cold.instance_hours, cold.scale_actions, cold.peak_instances) == (
        pct.slo_violation_minutes,
        pct.instance_hours,
        pct.scale_actions,
        pct.peak_instances,
    )
    assert cold.extra["forecast_minutes"] == 0


def test_hybrid_falls_back_to_reactive_when_its_forecasts_are_wrong() -> None:
    values = [5.0] * 5 + [30.0] * 20 + [5.0] * 5
    blind_pred = run(values, "predictive", lambda: Oracle(values, "zero"))
    hybrid = run(values, "hybrid", lambda: Oracle(values, "zero"))
    pct = run(values, "reactive-pct")
    # forecasts of 0 are 100 % wrong once the load is 30: the hybrid's gate closes and it is the reactive rule
    assert hybrid.slo_violation_minutes <= pct.slo_violation_minutes
    assert hybrid.peak_instances >= pct.peak_instances
    # the ungated predictive policy trusts them and sizes for the current load only (late by a start-up)
    assert blind_pred.slo_violation_minutes > 0
    assert hybrid.extra["forecast_relative_error"] > CFG.error_gate


def test_hybrid_never_below_reactive_decision() -> None:
    # a perfect forecaster that sees a dip coming: predictive alone would shrink; the hybrid must keep what
    # the reactive rule asks, so it scales in no faster than the rule (one at a time, cool-down apart)
    values = [30.0] * 30 + [1.0] * 30
    hybrid = run(values, "hybrid", lambda: Oracle(values))
    pred = run(values, "predictive", lambda: Oracle(values))
    assert hybrid.instance_hours >= pred.instance_hours
    assert hybrid.slo_violation_minutes == 0


def test_default_capacity_is_median_over_four() -> None:
    assert default_capacity(trace([4.0, 8.0, 100.0])) == pytest.approx(2.0)
    assert default_capacity(trace([0.0, 0.0, 12.0])) == pytest.approx(1.0)  # median 0 → mean / 4
    assert default_capacity(trace([0.0, 0.0])) == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"capacity_per_instance": 0.0},
        {"capacity_per_instance": 1.0, "target_utilization": 0.0},
        {"capacity_per_instance": 1.0, "min_instances": 5, "max_instances": 2},
        {"capacity_per_instance": 1.0, "startup_s": -1.0},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SimConfig(**kwargs)  # type: ignore[arg-type]
