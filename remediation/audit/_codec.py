"""Requests and events to and from JSON, and folding a request's events into an :class:`ActionRecord`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from remediation.model import ActionRecord, ActionRequest, ActionStatus, AuditEvent, Target

__all__ = ["STATUS_OF", "StartedAction", "dumps", "fold", "jsonable", "request_from_dict", "request_to_dict"]

# The status an event moves its request to; kinds not listed (platform_call, step, mode_changed) keep it.
STATUS_OF: dict[str, ActionStatus] = {
    "requested": "requested",
    "refused": "refused",
    "deferred": "deferred",
    "dry_run": "dry_run",
    "pending_approval": "pending_approval",
    "approved": "requested",
    "rejected": "rejected",
    "expired": "expired",
    "started": "running",
    "succeeded": "verifying",
    "failed": "failed",
    "verified": "verified",
    "verification_failed": "failed",
    "escalated": "escalated",
    "reverted": "reverted",
    "interrupted": "interrupted",
}


@dataclass(frozen=True, slots=True)
class StartedAction:
    """An executed action (one with a ``started`` event): the rails count these."""

    action_id: str
    policy: str
    target: Target
    started_at: datetime


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: dataclasses become dicts, datetimes ISO strings, unknown objects ``str``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), sort_keys=True, separators=(",", ":"))


def _time(text: str) -> datetime:
    t = datetime.fromisoformat(text)
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def request_to_dict(r: ActionRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "policy": r.policy,
        "policy_version": r.policy_version,
        "action": r.action,
        "target": {"app": r.target.app, "instance": r.target.instance},
        "params": jsonable(r.params),
        "mode": r.mode,
        "created_at": r.created_at.isoformat(),
        "trigger": jsonable(r.trigger),
        "org": r.org,
        "space": r.space,
    }


def request_from_dict(d: dict[str, Any]) -> ActionRequest:
    return ActionRequest(
        id=d["id"],
        policy=d["policy"],
        policy_version=d["policy_version"],
        action=d["action"],
        target=Target(d["target"]["app"], d["target"]["instance"]),
        params=d["params"],
        mode=d["mode"],
        created_at=_time(d["created_at"]),
        trigger=d.get("trigger", {}),
        org=d.get("org"),  # records from before tenancy have neither: the foundation's
        space=d.get("space"),
    )


def fold(request: ActionRequest, events: Iterable[AuditEvent]) -> ActionRecord:
    evs = sorted(events, key=lambda e: e.seq)
    status: ActionStatus = "requested"
    updated = request.created_at
    for e in evs:
        status = STATUS_OF.get(e.kind, status)
        updated = e.at
    return ActionRecord(request=request, status=status, events=evs, updated_at=updated)
