"""Circuit breaker per target: after ``max_failures`` executed actions on the target within ``window`` that
failed or did not verify (since the last one that did), the breaker opens and refuses; ``reset_after`` the
last failure it is half-open and lets one action through: verified closes it, another failure re-opens it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from remediation.audit import started_since
from remediation.base import AuditLog
from remediation.model import TERMINAL_STATUSES, ActionRequest, Target
from remediation.rails._env import RailEnv

__all__ = ["BreakerState", "CircuitBreakerRail"]


@dataclass(frozen=True, slots=True)
class BreakerState:
    state: Literal["closed", "open", "half_open"]
    failures: int
    last_failure: datetime | None


class CircuitBreakerRail:
    name = "circuit_breaker"
    defers = False  # a hard refusal: the request ends ``refused``

    def __init__(self, env: RailEnv) -> None:
        self.env = env

    def state(self, policy: str, target: Target, history: AuditLog, now: datetime) -> BreakerState:
        cfg = self.env.circuit_breaker(policy)
        failures = 0
        last: datetime | None = None
        for s in started_since(history, now - timedelta(seconds=cfg.window)):
            if s.target != target:
                continue
            rec = history.get(s.action_id)
            if rec is None or rec.status not in TERMINAL_STATUSES:
                continue  # still running: no verdict yet
            if any(e.kind == "verified" for e in rec.events):
                failures, last = 0, None
            else:
                failures, last = failures + 1, rec.updated_at
        if failures < cfg.max_failures or last is None:
            return BreakerState("closed", failures, last)
        if (now - last).total_seconds() < cfg.reset_after:
            return BreakerState("open", failures, last)
        return BreakerState("half_open", failures, last)

    def check(self, request: ActionRequest, history: AuditLog, now: datetime) -> str | None:
        st = self.state(request.policy, request.target, history, now)
        if st.state != "open" or st.last_failure is None:
            return None
        cfg = self.env.circuit_breaker(request.policy)
        until = st.last_failure + timedelta(seconds=cfg.reset_after)
        return (
            f"circuit breaker open on {request.target}: {st.failures} actions failed or did not verify "
            f"within {cfg.window:.0f}s; half-open at {until.isoformat()}"
        )
