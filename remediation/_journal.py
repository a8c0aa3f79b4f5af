"""The engine's journal: audit events and the per-outcome request metrics, written together."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from remediation._metrics import RemediationMetrics
from remediation.base import AuditLog
from remediation.model import ActionRequest, AuditEvent, EventKind

__all__ = ["Journal", "describe"]


def describe(req: ActionRequest) -> str:
    """What ``req`` does, for people: ``restart_app web {"x": 1}``."""
    params = {k: v for k, v in req.params.items() if k != "type" and v is not None}
    return f"{req.action} {req.target}" + (f" {json.dumps(params, sort_keys=True)}" if params else "")


class Journal:
    def __init__(self, audit: AuditLog, clock: Callable[[], datetime], metrics: RemediationMetrics) -> None:
        self.audit = audit
        self._clock = clock
        self._metrics = metrics

    def event(self, action_id: str, kind: EventKind, data: dict[str, Any] | None = None) -> AuditEvent:
        return self.audit.append(AuditEvent(action_id, kind, self._clock(), data or {}))

    def outcome(self, req: ActionRequest, outcome: str) -> None:
        self._metrics.requests.labels(req.policy, outcome).inc()

    def refuse(self, req: ActionRequest, rail: str, reason: str) -> None:
        self.event(req.id, "refused", {"rail": rail, "reason": reason})
        self._metrics.refusals.labels(rail).inc()
        self.outcome(req, "refused")
