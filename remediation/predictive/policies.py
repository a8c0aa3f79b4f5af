"""Scaling policies of the capacity simulator: the CF App Autoscaler's reactive rule, the predictive policy,
the confidence-gated hybrid and static peak provisioning.

The reactive rule follows Cloud Foundry App Autoscaler's dynamic scaling rules as its policy document
describes them (cloudfoundry/app-autoscaler ``docs/policy.md``: ``threshold`` + ``operator``,
``adjustment`` as ``+N``/``-N`` or ``+N%``/``-N%``, ``breach_duration_secs`` — "time duration to fire
scaling event if it keeps breaching", ``cool_down_secs`` — "the time duration to wait before the next
scaling kicks in"), with the defaults the issue fixes, which are also those of our policy importer
(:mod:`remediation.policy.autoscaler`): breach 120 s, cool-down 300 s; out above 80 % and in below 40 %
utilisation:

* the metric is sampled once a step (60 s): utilisation = load / (running instances × capacity per
  instance) (instances still starting serve nothing and report nothing; no running instance = ∞);
* a rule fires at step t when *every* sample of the last ``breach_duration_secs`` breached, i.e. the
  samples t−b+1 … t with b = ceil(breach / step) (2 samples for the defaults);
* a firing rule is carried out unless the last scaling action is less than ``cool_down_secs`` old; it
  keeps firing while the breach lasts, so a breach that outlives the cool-down scales again at its end;
* ``reactive`` adjusts ±1 instance, ``reactive-pct`` +50 % (``ceil(n × 1.5)``, at least +1) out and −1
  in; counts are clamped to [min, max]; an adjustment that changes nothing (at a bound) is no action.

``predictive`` sizes the app for ``max(current load, forecasts for now+60 s … now+startup+60 s)`` plus
``error_margin`` × its recent mean absolute forecast error, at the target utilisation; it scales out at
once (the forecast is one start-up ahead, so instances are ready when the load arrives) and in only
after the smaller size held for ``scale_in_hold_s``. While its forecaster cannot forecast (cold start)
it applies the reactive rule (the ``reactive-pct`` variant: on the bench it is the better reactive
policy on most traces). ``hybrid`` takes the larger of the predictive size and the reactive rule's
decision (never below what the reactive rule asks), and uses the reactive rule alone while its recent
forecast error (an exponentially weighted mean of |forecast − actual| of its one-start-up-ahead
forecasts, relative to the mean load) is above ``error_gate``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from remediation.predictive.forecast import Forecaster

__all__ = [
    "POLICIES",
    "FleetView",
    "PredictiveConfig",
    "PredictivePolicy",
    "ReactiveRule",
    "ScalingPolicy",
    "StaticPolicy",
]

POLICIES = ("reactive", "reactive-pct", "predictive", "hybrid")


@dataclass(frozen=True)
class FleetView:
    """What a policy sees at one step: the time, the load, running and desired (running + starting) counts."""

    t: float
    load: float
    running: int
    desired: int


class ScalingPolicy(Protocol):
    """Decides the desired instance count once a step; called in time order by one simulator."""

    def decide(self, view: FleetView) -> int: ...


class ReactiveRule:
    """App Autoscaler's rule pair (out above ``out_above``, in below ``in_below``), breach and cool-down."""

    def __init__(
        self,
        capacity: float,
        *,
        percent_out: bool = False,
        bounds: tuple[int, int] = (1, 100),
        breach_s: float = 120.0,
        cool_down_s: float = 300.0,
        step_s: float = 60.0,
        out_above: float = 0.8,
        in_below: float = 0.4,
    ) -> None:
        self.capacity = capacity
        self.percent_out = percent_out
        self.lo, self.hi = bounds
        self.samples = max(1, math.ceil(breach_s / step_s - 1e-9))
        self.cool_down_s = cool_down_s
        self.out_above, self.in_below = out_above, in_below
        self._out = 0
        self._in = 0
        self._last_action: float | None = None

    def sample(self, view: FleetView) -> None:
        """Take this step's utilisation sample (once a step, before :meth:`propose`)."""
        util = view.load / (view.running * self.capacity) if view.running else math.inf
        self._out = self._out + 1 if util > self.out_above else 0
        self._in = self._in + 1 if util < self.in_below else 0

    def cooling(self, t: float) -> bool:
        return self._last_action is not None and t - self._last_action < self.cool_down_s

    def propose(self, view: FleetView) -> int:
        """The count the rule asks for now (``view.desired`` when it does not fire or is cooling down)."""
        n = view.desired
        if self.cooling(view.t):
            return n
        if self._out >= self.samples:
            step = max(1, math.ceil(n * 0.5)) if self.percent_out else 1
            return min(self.hi, n + step)
        if self._in >= self.samples:
            return max(self.lo, n - 1)
        return n

    def acted(self, t: float) -> None:
        """A scaling action happened at ``t`` (starts the cool-down)."""
        self._last_action = t

    def decide(self, view: FleetView) -> int:
        self.sample(view)
        n = self.propose(view)
        if n != view.desired:
            self.acted(view.t)
        return n


@dataclass(frozen=True)
class PredictiveConfig:
    capacity: float
    target_utilization: float = 0.7
    startup_s: float = 120.0
    bounds: tuple[int, int] = (1, 100)
    step_s: float = 60.0
    scale_in_hold_s: float = 300.0
    hybrid: bool = False
    error_gate: float = 0.5  # hybrid: relative forecast error above which only the reactive rule decides
    error_fading: float = 0.02  # EWMA weight of one new error sample
    error_margin: float = 0.0  # head-room: forecasts + error_margin × EWMA |forecast − actual|


class PredictivePolicy:
    """``predictive`` (and, with ``hybrid``, the gated hybrid): see the module doc."""

    def __init__(self, forecaster: Forecaster, config: PredictiveConfig, reactive: ReactiveRule) -> None:
        self.f = forecaster
        self.c = config
        self.reactive = reactive
        lead = config.startup_s + config.step_s
        n = max(1, min(15, math.ceil(lead / config.step_s)))
        self._horizons = [lead * (i + 1) / n for i in range(n)]
        self._hold = deque[int](maxlen=max(1, math.ceil(config.scale_in_hold_s / config.step_s)))
        self._pending: deque[tuple[float, float]] = deque()  # (due time, forecast) one start-up ahead
        self._err = 0.0
        self._level = 0.0
        self._seen = 0
        self.forecast_minutes = 0  # steps decided by forecast (not by the reactive fallback)

    @property
    def relative_error(self) -> float | None:
        """EWMA |forecast − actual| over EWMA load of the start-up-ahead forecasts (None before any)."""
        if not self._seen:
            return None
        return self._err / self._level if self._level > 0 else (0.0 if self._err == 0 else math.inf)

    def _score(self, t: float, load: float) -> None:
        a = self.c.error_fading
        while self._pending and self._pending[0][0] <= t + 1e-6:
            _, f = self._pending.popleft()
            w = a if self._seen else 1.0
            self._err += w * (abs(f - load) - self._err)
            self._level += w * (load - self._level)
            self._seen += 1

    def _size(self, need: float) -> int:
        lo, hi = self.c.bounds
        x = need / (self.c.capacity * self.c.target_utilization)
        return hi if not math.isfinite(x) else max(lo, min(hi, math.ceil(x - 1e-9)))

    def decide(self, view: FleetView) -> int:
        self._score(view.t, view.load)
        self.f.observe(view.t, view.load)
        self.reactive.sample(view)
        forecasts = [self.f.predict(view.t + h) for h in self._horizons]
        reactive_n = self.reactive.propose(view)
        if any(x is None for x in forecasts):
            self._hold.clear()
            return self._act(view, reactive_n)
        fs = [x for x in forecasts if x is not None]
        ahead = self.f.predict(view.t + self.c.startup_s)
        if ahead is not None:
            self._pending.append((view.t + self.c.startup_s, ahead))
        err = self.relative_error
        if self.c.hybrid and (err is None or err > self.c.error_gate):
            self._hold.clear()
            return self._act(view, reactive_n)
        self.forecast_minutes += 1
        want = self._size(max([view.load, *fs]) + self.c.error_margin * self._err)
        self._hold.append(want)
        if want >= view.desired:
            n = want
        elif len(self._hold) == self._hold.maxlen and max(self._hold) < view.desired:
            n = max(self._hold)
        else:
            n = view.desired
        if self.c.hybrid:
            n = max(n, reactive_n)
        return self._act(view, n)

    def _act(self, view: FleetView, n: int) -> int:
        if n != view.desired:
            self.reactive.acted(view.t)
        return n


class StaticPolicy:
    """A fixed count (static peak provisioning: sized for the trace's peak at the target utilisation)."""

    def __init__(self, count: int) -> None:
        self.count = count

    def decide(self, view: FleetView) -> int:
        return self.count
