"""Shared builders for remediation tests: a fake clock, policies, alerts, an engine over SimPlatform."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from alerting.model import Alert
from remediation.audit import MemoryAuditLog
from remediation.base import AuditLog
from remediation.config import GlobalRails, Policy
from remediation.engine import RemediationEngine
from remediation.model import ActionRecord
from remediation.sim import SimPlatform

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self, t: datetime = T0) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


class Sink:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def put(self, alerts: Sequence[Alert]) -> None:
        self.alerts.extend(alerts)

    def named(self, name: str) -> list[Alert]:
        return [a for a in self.alerts if a.labels.get("alertname") == name]


def policy(name: str = "p", action: dict[str, Any] | None = None, **kw: Any) -> Policy:
    raw: dict[str, Any] = {
        "name": name,
        "mode": "live",
        "trigger": {"matchers": ['alertname="Down"']},
        "target": {"app_label": "app", "instance_label": "app_instance"},
        "action": action or {"type": "restart_app"},
        "verify": {"deadline": 0.3, "on_failure": "escalate"},
    }
    raw.update(kw)
    return Policy.model_validate(raw)


def alert(app: str = "web", instance: int | None = 0, *, start: datetime = T0, **labels: str) -> Alert:
    lab = {"alertname": "Down", "app": app, **labels}
    if instance is not None:
        lab["app_instance"] = str(instance)
    return Alert(lab, {}, starts_at=start)


def resolved(a: Alert, at: datetime) -> Alert:
    return Alert(dict(a.labels), {}, starts_at=a.starts_at, ends_at=at)


def engine(
    policies: Sequence[Policy],
    platform: SimPlatform | None = None,
    *,
    audit: AuditLog | None = None,
    rails: GlobalRails | None = None,
    clock: Callable[[], datetime] | None = None,
    **kw: Any,
) -> RemediationEngine:
    return RemediationEngine(
        policies,
        platform or SimPlatform({"web": 4, "api": 2}),
        audit or MemoryAuditLog(),
        global_rails=rails or GlobalRails(cooldown=0),
        clock=clock or Clock(),
        registry=CollectorRegistry(),
        backoff_s=kw.pop("backoff_s", 0.01),
        **kw,
    )


def kinds(rec: Any) -> list[str]:
    return [e.kind for e in rec.events]


async def wait_status(
    eng: RemediationEngine, action_id: str, statuses: Collection[str], timeout_s: float = 10.0
) -> ActionRecord:
    """Poll the audit trail until the action is in one of ``statuses`` (fails at the deadline)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rec = eng.audit.get(action_id)
        if rec is not None and rec.status in statuses:
            return rec
        if time.monotonic() >= deadline:
            raise AssertionError(f"{action_id}: {rec.status if rec else None}, wanted {sorted(statuses)}")
        await asyncio.sleep(0.01)
