"""paramedic.dashboard.AuditActions: the dashboard's actions reader over the audit log tells deployments
(actions that drive the platform's deployments, from the action registry) from instance actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paramedic.dashboard import AuditActions
from remediation.audit.memory import MemoryAuditLog
from remediation.model import ActionRequest, Target

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_rollback_and_blue_green_are_deployments_restarts_and_scaling_are_not() -> None:
    log = MemoryAuditLog()
    for i, action in enumerate(["restart_app", "restart_instance", "scale", "rollback", "blue_green"]):
        created = T0 + timedelta(seconds=i)
        log.record(ActionRequest(f"r{i}", "p", "abc", action, Target("shop"), {}, "live", created))
    got = {a["action"]: a["deployment"] for a in AuditActions(log).recent(limit=10)}
    assert got == {
        "restart_app": False,
        "restart_instance": False,
        "scale": False,
        "rollback": True,
        "blue_green": True,
    }
