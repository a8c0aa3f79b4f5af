"""What remediation decides and records.

* An :class:`ActionRequest` is one intended action: a policy, matched by a trigger (an alert or a schedule),
  wants ``action`` with ``params`` on ``target``. Its ``id`` is stable for the same trigger occurrence
  (policy + target + alert fingerprint + alert start), so a storm of repeats of one alert maps to one request
  and a request is never applied twice.
* Every step of its life is an :class:`AuditEvent` appended to the audit trail: ``requested``, each rail's
  ``refused`` (budget, circuit breaker: final) or ``deferred`` (lock, cooldown, blast radius, max_concurrent:
  "not now", re-checked until it passes or ``expired``), ``dry_run``, ``pending_approval``,
  ``approved``/``rejected``, ``started``, ``platform_call``, ``succeeded``/``failed``,
  ``verified``/``verification_failed``, ``escalated``, ``reverted``, ``interrupted``.
* :class:`ActionRecord` is the folded view of one request's events (what ``GET /api/v1/actions`` returns).
* Tenancy: every request carries the ``org`` and ``space`` of the app it acts on (from the platform's
  :class:`platforms.base.TenantResolver`, else the triggering alert's labels); both None for an action of the
  foundation (an app in no space, or a record written before tenancy). Its events and record inherit them, and
  readers filter them with :class:`platforms.tenancy.Scope`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "TERMINAL_STATUSES",
    "ActionRecord",
    "ActionRequest",
    "ActionStatus",
    "AuditEvent",
    "EventKind",
    "Target",
    "request_id",
]

EventKind = Literal[
    "requested",
    "refused",
    "deferred",  # a rail said "not now": data {rail, reason}, written once per change of rail
    "dry_run",
    "pending_approval",
    "approved",
    "rejected",
    "expired",
    "started",
    "platform_call",
    "succeeded",
    "failed",
    "verified",
    "verification_failed",
    "escalated",
    "reverted",
    "interrupted",
    "step",  # a blue-green step: weight, judge verdict
    "mode_changed",  # set_mode: action_id "policy:<name>", data {mode, who}
]

ActionStatus = Literal[
    "requested",
    "refused",
    "deferred",  # waiting for a transient rail (not terminal: re-checked, re-queued by recover)
    "dry_run",
    "pending_approval",
    "rejected",
    "expired",
    "running",
    "failed",
    "verifying",
    "verified",
    "escalated",
    "reverted",
    "interrupted",
]
TERMINAL_STATUSES: frozenset[str] = frozenset(
    {"refused", "dry_run", "rejected", "expired", "failed", "verified", "escalated", "reverted"}
    | {"interrupted"}
)


@dataclass(frozen=True, slots=True)
class Target:
    """What an action acts on: an app, or one instance of it (``instance`` is the index)."""

    app: str
    instance: int | None = None

    def __str__(self) -> str:
        return self.app if self.instance is None else f"{self.app}/{self.instance}"


def request_id(policy: str, target: Target, trigger_key: str) -> str:
    """Stable id: the same policy, target and trigger occurrence always give the same id (dedup key)."""
    raw = f"{policy}\x00{target}\x00{trigger_key}".encode()
    return hashlib.sha256(raw).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class ActionRequest:
    id: str
    policy: str
    policy_version: str  # sha256 of the policy's canonical content, first 12 hex digits
    action: str  # "restart_app", "restart_instance", "scale", "rollback", "blue_green"
    target: Target
    params: dict[str, Any]
    mode: Literal["dry_run", "live"]
    created_at: datetime
    # The trigger: alert labels/annotations/values (or {"schedule": ...}), copied into the audit trail.
    trigger: dict[str, Any] = field(default_factory=dict)
    org: str | None = None  # tenancy: the target app's org and space (None: the foundation's)
    space: str | None = None

    @property
    def tenant(self) -> dict[str, str]:
        """``{"org": ..., "space": ...}`` (the keys that are set): what :meth:`Scope.sees_labels` reads."""
        out = {}
        if self.org is not None:
            out["org"] = self.org
        if self.space is not None:
            out["space"] = self.space
        return out


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One append-only audit record. ``seq`` is assigned by the audit log (monotonic, gap-free)."""

    action_id: str
    kind: EventKind
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)  # reason, rail, call, response, values, who, ...
    seq: int = 0


@dataclass(slots=True)
class ActionRecord:
    """Everything known about one action request, folded from its audit events."""

    request: ActionRequest
    status: ActionStatus
    events: list[AuditEvent]
    updated_at: datetime
