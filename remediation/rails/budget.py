"""Budget: at most ``max_actions`` executed actions per window, per policy and across all policies."""

from __future__ import annotations

from datetime import datetime, timedelta

from remediation.audit import started_since
from remediation.base import AuditLog
from remediation.model import ActionRequest
from remediation.rails._env import RailEnv

__all__ = ["BudgetRail"]


class BudgetRail:
    name = "budget"
    defers = False  # a hard refusal: the request ends ``refused``

    def __init__(self, env: RailEnv) -> None:
        self.env = env

    def check(self, request: ActionRequest, history: AuditLog, now: datetime) -> str | None:
        mine = self.env.budget(request.policy)
        used = sum(
            1
            for s in started_since(history, now - timedelta(seconds=mine.window))
            if s.policy == request.policy and s.action_id != request.id
        )
        if used >= mine.max_actions:
            return f"policy budget spent: {used} of {mine.max_actions} actions in {mine.window:.0f}s"
        glob = self.env.global_rails.budget
        used_all = sum(
            1
            for s in started_since(history, now - timedelta(seconds=glob.window))
            if s.action_id != request.id
        )
        if used_all >= glob.max_actions:
            return f"global budget spent: {used_all} of {glob.max_actions} actions in {glob.window:.0f}s"
        return None
