"""Blast radius: instance restarts and scale-ins touch at most ``max_instances_pct`` of an app's instances at
once (at least one), and at most ``max_apps`` apps are being remediated at once."""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import ValidationError

from remediation.actions import ACTIONS, is_per_instance
from remediation.base import AuditLog
from remediation.model import ActionRequest
from remediation.rails._env import RailEnv

__all__ = ["BlastRadiusRail"]


class BlastRadiusRail:
    name = "blast_radius"
    defers = True  # "not now": the engine defers the request and re-checks it

    def __init__(self, env: RailEnv) -> None:
        self.env = env

    def check(self, request: ActionRequest, history: AuditLog, now: datetime) -> str | None:
        cfg = self.env.blast_radius(request.policy)
        app = request.target.app
        others = {r.target.app for aid, r in self.env.running.items() if aid != request.id} - {app}
        if len(others) + 1 > cfg.max_apps:
            return f"{len(others)} other apps are being remediated (max_apps {cfg.max_apps})"
        touched = self._touched(request)
        if touched is None or touched == 0:
            return None
        n = self.env.instance_counts.get(app)
        if n is None:
            return f"instance count of {app} unknown; cannot bound the blast radius"
        allowed = max(1, math.floor(n * cfg.max_instances_pct / 100))
        if touched > allowed:
            return (
                f"{touched} of {n} instances of {app} would be acted on at once "
                f"(max {cfg.max_instances_pct:g}% = {allowed})"
            )
        return None

    def _touched(self, request: ActionRequest) -> int | None:
        """Instances the request takes down at once (with the per-instance actions already running); None
        when that depends on an instance count nobody could read."""
        action = ACTIONS.get(request.action)
        if action is None or not action.needs_instance_count:
            return 0
        if action.per_instance:
            busy = sum(
                1
                for aid, r in self.env.running.items()
                if aid != request.id and r.target.app == request.target.app and is_per_instance(r.action)
            )
            return busy + 1
        try:
            params = action.params_model.model_validate(request.params)
        except ValidationError:
            return 0  # the action itself reports bad params
        n = self.env.instance_counts.get(request.target.app)
        if n is None:
            return None
        return action.instances_down(params, n)
