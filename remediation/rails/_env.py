"""What every rail reads besides the audit history: the effective config and the engine's live state."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from remediation.config import (
    ApprovalRailConfig,
    BlastRadiusRailConfig,
    BudgetRailConfig,
    CircuitBreakerRailConfig,
    GlobalRails,
    Policy,
)
from remediation.model import ActionRequest

__all__ = ["RailEnv"]


@dataclass(slots=True)
class RailEnv:
    """``running``: action id -> request of every action executing or verifying now (owned by the engine,
    read on the event loop). ``instance_counts``: app -> instances, fetched by the engine just before the
    decision for the actions that need it (blast radius)."""

    global_rails: GlobalRails
    policy: Callable[[str], Policy | None]
    running: Mapping[str, ActionRequest] = field(default_factory=dict)
    instance_counts: Mapping[str, int] = field(default_factory=dict)

    def cooldown_s(self, policy: str) -> float:
        p = self.policy(policy)
        c = p.rails.cooldown if p is not None else None
        return self.global_rails.cooldown if c is None else c

    def budget(self, policy: str) -> BudgetRailConfig:
        p = self.policy(policy)
        return (p.rails.budget if p is not None else None) or self.global_rails.budget

    def blast_radius(self, policy: str) -> BlastRadiusRailConfig:
        p = self.policy(policy)
        return (p.rails.blast_radius if p is not None else None) or self.global_rails.blast_radius

    def circuit_breaker(self, policy: str) -> CircuitBreakerRailConfig:
        p = self.policy(policy)
        return (p.rails.circuit_breaker if p is not None else None) or self.global_rails.circuit_breaker

    def max_defer(self, policy: str) -> float:
        p = self.policy(policy)
        d = p.rails.max_defer if p is not None else None
        return self.global_rails.max_defer if d is None else d

    def approval(self, policy: str) -> ApprovalRailConfig:
        p = self.policy(policy)
        return (p.rails.approval if p is not None else None) or self.global_rails.approval
