"""Safety rails, checked in this order (first objection wins): lock, cooldown, budget, blast radius,
circuit breaker, global concurrency. Approval and mode are decided by the engine after the rails.

Rails whose objection is transient ("not now": lock, cooldown, blast radius, max_concurrent) have
``defers = True``: the engine defers the request and re-checks it until it passes or expires. Budget and
circuit breaker refuse for good (``defers = False``); so does any rail without the attribute."""

from __future__ import annotations

from remediation.base import Rail
from remediation.rails._env import RailEnv
from remediation.rails.blast_radius import BlastRadiusRail
from remediation.rails.budget import BudgetRail
from remediation.rails.circuit_breaker import BreakerState, CircuitBreakerRail
from remediation.rails.concurrency import ConcurrencyRail
from remediation.rails.cooldown import CooldownRail
from remediation.rails.lock import LockRail

__all__ = [
    "BlastRadiusRail",
    "BreakerState",
    "BudgetRail",
    "CircuitBreakerRail",
    "ConcurrencyRail",
    "CooldownRail",
    "LockRail",
    "RailEnv",
    "build_rails",
    "defers",
]


def defers(rail: Rail) -> bool:
    """Whether ``rail``'s objection only means "not now" (the engine defers instead of refusing)."""
    return getattr(rail, "defers", False) is True


def build_rails(env: RailEnv) -> list[Rail]:
    return [
        LockRail(env),
        CooldownRail(env),
        BudgetRail(env),
        BlastRadiusRail(env),
        CircuitBreakerRail(env),
        ConcurrencyRail(env),
    ]
