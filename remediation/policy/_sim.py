"""What ``policy test`` and ``policy backtest`` share: a virtual clock, a simulating engine, and the
decision an action record ended in (``executed``, ``dry_run``, ``refused`` by a rail, ``deferred`` by a rail
and still waiting, ``expired`` (deferred by a rail until its alert resolved or ``max_defer``, or unapproved),
``pending_approval``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry

from platforms.base import Remediable
from remediation.base import AuditLog
from remediation.config import GlobalRails, Policy
from remediation.engine import RemediationEngine
from remediation.model import ActionRecord

__all__ = ["Decision", "VirtualClock", "decision_of", "simulation_engine"]


class VirtualClock:
    """A settable clock: ``clock()`` returns ``clock.now``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def simulation_engine(
    policies: Sequence[Policy],
    platform: Remediable,
    audit: AuditLog,
    clock: VirtualClock,
    global_rails: GlobalRails | None = None,
) -> RemediationEngine:
    """An engine that takes every decision as if live but makes no mutating platform call."""
    return RemediationEngine(
        policies,
        platform,
        audit,
        global_rails=global_rails or GlobalRails(),
        clock=clock,
        registry=CollectorRegistry(),
        simulate=True,
        retries=0,
        backoff_s=0.01,
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """One request's outcome, flattened for comparison and tables."""

    action_id: str
    at: datetime
    policy: str
    action: str
    target: str
    decision: str  # executed | dry_run | refused | deferred | expired | pending_approval | <other status>
    rail: str | None = None
    reason: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    status: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "policy": self.policy,
            "action": self.action,
            "target": self.target,
            "decision": self.decision,
        }
        if self.rail is not None:
            out["rail"] = self.rail
        if self.params:
            out["params"] = self.params
        return out


def decision_of(record: ActionRecord) -> Decision:
    req = record.request
    kinds = {e.kind: e for e in record.events}
    params = {k: v for k, v in req.params.items() if k != "type" and v is not None}
    rail, reason = None, ""
    if "started" in kinds:
        decision = "executed"
        done = kinds.get("succeeded") or kinds.get("failed")
        if done is not None and isinstance(done.data.get("data"), dict):
            params.update({k: v for k, v in done.data["data"].items() if v is not None})
        if "failed" in kinds:
            reason = str(kinds["failed"].data.get("detail", ""))
    elif "refused" in kinds:
        decision = "refused"
        rail = str(kinds["refused"].data.get("rail", ""))
        reason = str(kinds["refused"].data.get("reason", ""))
    elif "dry_run" in kinds:
        decision = "dry_run"
        reason = str(kinds["dry_run"].data.get("would", ""))
    elif record.status in ("deferred", "expired") and "deferred" in kinds:
        decision = record.status  # the rail that held it back last, and why (or why it gave up)
        rail = str(kinds["deferred"].data.get("rail", ""))
        last = kinds["expired"] if record.status == "expired" else kinds["deferred"]
        reason = str(last.data.get("reason", ""))
    elif "pending_approval" in kinds:
        decision = "pending_approval"
    else:
        decision = record.status
    at = record.events[0].at if record.events else req.created_at
    return Decision(
        req.id, at, req.policy, req.action, str(req.target), decision, rail, reason, params, record.status
    )
