"""The predictive scale policy's decision: how many instances for a forecast load, the hybrid floor, the
confidence gate, cold start, and the ledger that compares forecasts with the actuals that later arrived.

* ``instances_for(load)`` = ``ceil(load / (capacity_per_instance * target_utilization))``.
* **reactive** (the floor, and the fallback) is that count for the load measured now.
* **predictive** mode asks for the count of the forecast at ``now + startup``; without a forecast (cold
  start: the model has not seen a whole season) it asks for the reactive count.
* **hybrid** asks for ``max(forecast count, reactive count)``, and the reactive count alone while the recent
  forecast error is unknown (no forecast has matured yet) or above ``max_error``.

Every count is clamped to the scale action's ``min_instances..max_instances``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from remediation.predictive.policy_config import PredictiveSpec

__all__ = ["Basis", "ForecastLedger", "ScaleDecision", "decide", "instances_for"]

Basis = Literal["predictive", "hybrid", "reactive_floor", "cold_start", "gated", "unknown_error"]


def instances_for(load: float, capacity_per_instance: float, target_utilization: float) -> int:
    """Instances that serve ``load`` at ``target_utilization`` (0 for no load; float noise ignored)."""
    if not math.isfinite(load) or load <= 0:
        return 0
    return max(0, math.ceil(load / (capacity_per_instance * target_utilization) - 1e-9))


@dataclass(frozen=True, slots=True)
class ScaleDecision:
    """What the policy asks for one app at one time, and why (written into the audit trail)."""

    instances: int  # asked for, clamped
    reactive: int  # the reactive rule's count for the actual load, clamped
    predicted: int | None  # the forecast's count, clamped (None: no forecast)
    basis: Basis
    reason: str
    actual: float
    forecast: float | None
    error: float | None  # recent weighted absolute percentage error (None: nothing matured yet)

    def as_dict(self) -> dict[str, object]:
        return {
            "instances": self.instances,
            "reactive": self.reactive,
            "predicted": self.predicted,
            "basis": self.basis,
            "reason": self.reason,
            "actual": self.actual,
            "forecast": self.forecast,
            "error": self.error,
        }


def _clamp(n: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, n))


def decide(
    spec: PredictiveSpec,
    *,
    actual: float,
    forecast: float | None,
    error: float | None,
    min_instances: int,
    max_instances: int,
) -> ScaleDecision:
    """The decision for one app (see the module docstring for the rules)."""
    cap, util = spec.capacity_per_instance, spec.target_utilization
    reactive = _clamp(instances_for(actual, cap, util), min_instances, max_instances)
    if forecast is None:
        why = f"cold start: no forecast yet, reactive {reactive} for load {actual:.3g}"
        return ScaleDecision(reactive, reactive, None, "cold_start", why, actual, None, error)
    predicted = _clamp(instances_for(forecast, cap, util), min_instances, max_instances)
    ahead = f"forecast {forecast:.3g} at +{spec.startup:g}s -> {predicted}"
    if spec.mode == "predictive":
        return ScaleDecision(predicted, reactive, predicted, "predictive", ahead, actual, forecast, error)
    if error is None:
        why = f"{ahead}; no forecast has matured yet: reactive {reactive}"
        return ScaleDecision(reactive, reactive, predicted, "unknown_error", why, actual, forecast, error)
    if error > spec.max_error:
        why = f"{ahead}; recent error {error:.3f} above max_error {spec.max_error:g}: reactive {reactive}"
        return ScaleDecision(reactive, reactive, predicted, "gated", why, actual, forecast, error)
    if reactive > predicted:
        why = f"{ahead}; below the reactive floor {reactive} for load {actual:.3g}"
        return ScaleDecision(reactive, reactive, predicted, "reactive_floor", why, actual, forecast, error)
    why = f"{ahead} (reactive {reactive}, recent error {error:.3f})"
    return ScaleDecision(predicted, reactive, predicted, "hybrid", why, actual, forecast, error)


class ForecastLedger:
    """Forecasts made (for a target time) and the actuals that later arrived. A forecast matures at the
    first actual at or after its target time (within half an ``interval_s`` before it); the error is the
    weighted absolute percentage error of the last ``window`` matured pairs: ``sum|f - a| / sum|a|``."""

    def __init__(self, interval_s: float, window: int) -> None:
        self._half = interval_s / 2
        self._pending: deque[tuple[float, float]] = deque(maxlen=10_000)  # (target time, forecast)
        self.matured: deque[tuple[float, float, float]] = deque(maxlen=window)  # (time, forecast, actual)

    def forecast(self, target_t: float, value: float) -> None:
        if self._pending and target_t <= self._pending[-1][0]:
            return  # one forecast per target time, in time order
        self._pending.append((target_t, value))

    def actual(self, t: float, value: float) -> list[tuple[float, float, float]]:
        """Record the actual at ``t``; returns the pairs it matured: (target time, forecast, actual)."""
        out = []
        while self._pending and self._pending[0][0] <= t + self._half:
            target, f = self._pending.popleft()
            if target < t - 3 * self._half:
                continue  # a gap in the data: no actual near this forecast's target
            pair = (target, f, value)
            self.matured.append(pair)
            out.append(pair)
        return out

    def error(self) -> float | None:
        if not self.matured:
            return None
        diff = sum(abs(f - a) for _, f, a in self.matured)
        total = sum(abs(a) for _, _, a in self.matured)
        if total == 0:
            return 0.0 if diff == 0 else math.inf
        return diff / total
