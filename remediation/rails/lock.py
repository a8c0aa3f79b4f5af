"""Concurrency lock: one action per app at a time. Instance restarts lock only their instance, so different
instances of one app may restart side by side (the blast-radius rail bounds how many); any app-level action
excludes every other action on that app."""

from __future__ import annotations

from datetime import datetime

from remediation.actions import is_per_instance
from remediation.base import AuditLog
from remediation.model import ActionRequest
from remediation.rails._env import RailEnv

__all__ = ["LockRail"]


class LockRail:
    name = "lock"
    defers = True  # "not now": the engine defers the request and re-checks it

    def __init__(self, env: RailEnv) -> None:
        self.env = env

    def check(self, request: ActionRequest, history: AuditLog, now: datetime) -> str | None:
        mine_instance = is_per_instance(request.action)
        for aid, other in self.env.running.items():
            if aid == request.id or other.target.app != request.target.app:
                continue
            both_instances = mine_instance and is_per_instance(other.action)
            if not both_instances or other.target.instance == request.target.instance:
                return f"action {aid} ({other.action} on {other.target}) is running on {request.target.app}"
        return None
