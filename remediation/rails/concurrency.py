"""Global concurrency: at most ``global_rails.max_concurrent`` actions executing at once."""

from __future__ import annotations

from datetime import datetime

from remediation.base import AuditLog
from remediation.model import ActionRequest
from remediation.rails._env import RailEnv

__all__ = ["ConcurrencyRail"]


class ConcurrencyRail:
    name = "max_concurrent"
    defers = True  # "not now": the engine defers the request and re-checks it

    def __init__(self, env: RailEnv) -> None:
        self.env = env

    def check(self, request: ActionRequest, history: AuditLog, now: datetime) -> str | None:
        n = sum(1 for aid in self.env.running if aid != request.id)
        limit = self.env.global_rails.max_concurrent
        return f"{n} actions running (max_concurrent {limit})" if n >= limit else None
