"""Cooldown: no action on a target within ``cooldown`` of the last executed one (any policy)."""

from __future__ import annotations

from datetime import datetime, timedelta

from remediation.audit import started_since
from remediation.base import AuditLog
from remediation.model import ActionRequest
from remediation.rails._env import RailEnv

__all__ = ["CooldownRail"]


class CooldownRail:
    name = "cooldown"
    defers = True  # "not now": the engine defers the request and re-checks it

    def __init__(self, env: RailEnv) -> None:
        self.env = env

    def check(self, request: ActionRequest, history: AuditLog, now: datetime) -> str | None:
        cooldown = self.env.cooldown_s(request.policy)
        if cooldown <= 0:
            return None
        recent = [
            s
            for s in started_since(history, now - timedelta(seconds=cooldown))
            if s.target == request.target and s.action_id != request.id
        ]
        if not recent:
            return None
        last = recent[-1]
        wait = cooldown - (now - last.started_at).total_seconds()
        return (
            f"cooldown: {last.action_id} acted on {request.target} at {last.started_at.isoformat()}; "
            f"next action allowed in {wait:.0f}s"
        )
