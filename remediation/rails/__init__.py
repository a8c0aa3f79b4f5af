"""Safety rails, checked in this order (first refusal wins): lock, cooldown, budget, blast radius,
circuit breaker, global concurrency. Approval and mode are decided by the engine after the rails."""

from __future__ import annotations

from remediation.base import Rail
from remediation.rails._env import INSTANCE_ACTIONS, RailEnv
from remediation.rails.blast_radius import BlastRadiusRail
from remediation.rails.budget import BudgetRail
from remediation.rails.circuit_breaker import BreakerState, CircuitBreakerRail
from remediation.rails.concurrency import ConcurrencyRail
from remediation.rails.cooldown import CooldownRail
from remediation.rails.lock import LockRail

__all__ = [
    "INSTANCE_ACTIONS",
    "BlastRadiusRail",
    "BreakerState",
    "BudgetRail",
    "CircuitBreakerRail",
    "ConcurrencyRail",
    "CooldownRail",
    "LockRail",
    "RailEnv",
    "build_rails",
]


def build_rails(env: RailEnv) -> list[Rail]:
    return [
        LockRail(env),
        CooldownRail(env),
        BudgetRail(env),
        BlastRadiusRail(env),
        CircuitBreakerRail(env),
        ConcurrencyRail(env),
    ]
