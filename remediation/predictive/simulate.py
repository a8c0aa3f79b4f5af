"""The capacity simulator: a load trace replayed one minute at a time through a fleet of instances that take
``startup_s`` to become ready, scaled by one policy (:mod:`remediation.predictive.policies`).

Each step t, in this order:

1. instances whose start-up has elapsed (``ready_at ≤ t``) are running; capacity = running × capacity per
   instance; the minute is an **SLO-violation minute** when load > capacity;
2. every instance, running or starting, is billed for the step (``instance_hours``);
3. the policy sees (t, load, running, desired) and names the desired count; new instances are ready at
   ``t + startup_s``; a scale-in stops the youngest instances first (starting ones before running ones).
   Any change of the desired count is one **scale action**.

The fleet starts with enough running instances for the first minute's load at the target utilisation
(static peak provisioning: with its fixed count).
Forecasters only ever see points up to t before forecasting later times, so every figure is out of sample.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from remediation.predictive import default_forecaster
from remediation.predictive.forecast import Forecaster
from remediation.predictive.policies import (
    POLICIES,
    FleetView,
    PredictiveConfig,
    PredictivePolicy,
    ReactiveRule,
    ScalingPolicy,
    StaticPolicy,
)
from remediation.predictive.trace import STEP_S, LoadTrace, read_trace

__all__ = [
    "SimConfig",
    "SimResult",
    "default_capacity",
    "make_policy",
    "simulate",
    "simulate_file",
    "simulate_policy",
]


@dataclass(frozen=True)
class SimConfig:
    """One simulation's fleet model; ``capacity_per_instance`` in requests/s at 100 % utilisation."""

    capacity_per_instance: float
    startup_s: float = 120.0
    target_utilization: float = 0.7
    min_instances: int = 1
    max_instances: int = 100
    breach_s: float = 120.0
    cool_down_s: float = 300.0
    # chosen on the bench's tuning half (bench/capacity.py: hold 300/600/1200, gate 0.2/0.5/1, margin 0/1/2)
    scale_in_hold_s: float = 300.0
    error_gate: float = 0.5
    error_margin: float = 0.0

    def __post_init__(self) -> None:
        if not (self.capacity_per_instance > 0 and math.isfinite(self.capacity_per_instance)):
            raise ValueError("capacity_per_instance must be a positive number")
        if not 0 < self.target_utilization <= 1:
            raise ValueError("target_utilization must be in (0, 1]")
        if self.startup_s < 0 or self.breach_s < 0 or self.cool_down_s < 0 or self.scale_in_hold_s < 0:
            raise ValueError("durations must not be negative")
        if not 0 <= self.min_instances <= self.max_instances or self.max_instances < 1:
            raise ValueError("need 0 ≤ min ≤ max and max ≥ 1")
        if self.max_instances > 100_000:
            raise ValueError("max_instances above 100000")


@dataclass
class SimResult:
    policy: str
    slo_violation_minutes: int
    instance_hours: float
    scale_actions: int
    peak_instances: int
    minutes: int
    capacity_per_instance: float
    startup_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["instance_hours"] = round(self.instance_hours, 3)
        extra = d.pop("extra")
        d.update(extra)
        return d


def default_capacity(trace: LoadTrace) -> float:
    """The trace's median load / 4 (the mean / 4, or 1, when the median is 0)."""
    for stat in (float(_median(trace)), float(trace.load.mean())):
        if stat > 0:
            return stat / 4.0
    return 1.0


def _median(trace: LoadTrace) -> float:
    return float(np.median(trace.load))


def make_policy(
    name: str, cfg: SimConfig, forecaster: Callable[[], Forecaster] | None = None
) -> ScalingPolicy:
    """The policy called ``name`` (one of :data:`POLICIES`); the predictive ones use ``forecaster``
    (a factory; default :func:`~remediation.predictive.default_forecaster`)."""
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICIES)}")
    bounds = (cfg.min_instances, cfg.max_instances)
    rule = ReactiveRule(
        cfg.capacity_per_instance,
        percent_out=name != "reactive",  # the predictive ones fall back to (and hybrid floors at) +50 %
        bounds=bounds,
        breach_s=cfg.breach_s,
        cool_down_s=cfg.cool_down_s,
        step_s=STEP_S,
    )
    if name in ("reactive", "reactive-pct"):
        return rule
    if forecaster is None:
        forecaster = default_forecaster
    pcfg = PredictiveConfig(
        capacity=cfg.capacity_per_instance,
        target_utilization=cfg.target_utilization,
        startup_s=cfg.startup_s,
        bounds=bounds,
        step_s=STEP_S,
        scale_in_hold_s=cfg.scale_in_hold_s,
        hybrid=name == "hybrid",
        error_gate=cfg.error_gate,
        error_margin=cfg.error_margin,
    )
    return PredictivePolicy(forecaster(), pcfg, rule)


def _size(load: float, cfg: SimConfig) -> int:
    x = load / (cfg.capacity_per_instance * cfg.target_utilization)
    if not math.isfinite(x):
        return cfg.max_instances
    return max(cfg.min_instances, min(cfg.max_instances, math.ceil(x - 1e-9)))


def simulate(
    trace: LoadTrace, policy: ScalingPolicy, cfg: SimConfig, name: str = "custom", initial: int | None = None
) -> SimResult:
    """Replay ``trace`` through ``policy`` (see the module doc for the step order); the fleet starts with
    ``initial`` running instances (default: sized for the first minute's load)."""
    if not len(trace):
        raise ValueError("empty trace")
    first = _size(float(trace.load[0]), cfg) if initial is None else initial
    ready = [float(trace.times[0])] * first
    violations = 0
    billed = 0
    actions = 0
    peak = len(ready)
    for t_np, load_np in zip(trace.times, trace.load, strict=True):
        t, load = float(t_np), float(load_np)
        running = bisect.bisect_right(ready, t)  # ready stays sorted: appends are later, cuts at the end
        if load > running * cfg.capacity_per_instance * (1 + 1e-12):
            violations += 1
        billed += len(ready)
        n = policy.decide(FleetView(t, load, running, len(ready)))
        n = max(cfg.min_instances, min(cfg.max_instances, n))
        if n == len(ready):
            continue
        actions += 1
        if n > len(ready):
            ready.extend([t + cfg.startup_s] * (n - len(ready)))
            peak = max(peak, n)
        else:
            del ready[n:]  # the youngest (latest ready) first
    return SimResult(
        name,
        violations,
        billed * STEP_S / 3600.0,
        actions,
        peak,
        len(trace),
        cfg.capacity_per_instance,
        cfg.startup_s,
    )


def simulate_policy(
    trace: LoadTrace, name: str, cfg: SimConfig, forecaster: Callable[[], Forecaster] | None = None
) -> SimResult:
    """:func:`simulate` with the named policy, or ``static`` for static peak provisioning."""
    if name == "static":
        count = _size(float(trace.load.max()), cfg)
        return simulate(trace, StaticPolicy(count), cfg, "static", initial=count)
    policy = make_policy(name, cfg, forecaster)
    result = simulate(trace, policy, cfg, name)
    if isinstance(policy, PredictivePolicy):
        err = policy.relative_error
        result.extra["forecast_minutes"] = policy.forecast_minutes
        result.extra["forecast_relative_error"] = None if err is None else round(err, 4)
    return result


def simulate_file(
    path: Path,
    policy: str,
    *,
    capacity_per_instance: float | None = None,
    startup_s: float = 120.0,
    target_utilization: float = 0.7,
    min_instances: int = 1,
    max_instances: int = 100,
) -> SimResult:
    """``paramedic capacity simulate``: read a NAB-format trace (:func:`read_trace`, which raises
    :class:`~remediation.predictive.trace.TraceFormatError`) and replay it through ``policy`` (one of
    :data:`POLICIES` or ``static``); ``capacity_per_instance`` defaults to :func:`default_capacity`.
    Bad settings raise ValueError."""
    if policy not in (*POLICIES, "static"):
        raise ValueError(f"unknown policy {policy!r}; known: {', '.join((*POLICIES, 'static'))}")
    trace = read_trace(path)
    cfg = SimConfig(
        capacity_per_instance=default_capacity(trace)
        if capacity_per_instance is None
        else capacity_per_instance,
        startup_s=startup_s,
        target_utilization=target_utilization,
        min_instances=min_instances,
        max_instances=max_instances,
    )
    return simulate_policy(trace, policy, cfg)
