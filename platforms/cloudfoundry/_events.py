"""CC audit events (``GET /v3/audit_events``) as :class:`platforms.base.PlatformEvent` for the timeline.

Queried types and their ``kind``:

===========================================================================  ==========
CC audit event type                                                          kind
===========================================================================  ==========
audit.app.process.crash, app.crash                                           crash
audit.app.restart, audit.app.process.rescheduling                            restart
audit.app.process.scale                                                      scale
audit.app.start / audit.app.stop                                             start/stop
audit.app.deployment.create / .cancel / .continue                            deployment
audit.app.droplet.mapped, audit.app.create                                   push
audit.app.droplet.create, audit.app.update                                   other
===========================================================================  ==========

``details``: ``index``, ``exit_description``, ``reason`` (crashes), ``instances`` and ``process_type``
(scales), ``revision_guid`` / ``droplet_guid`` / ``strategy`` (deployments), ``app_name``, ``space``,
``org`` (names as far as the adapter knows them, no extra call).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from platforms.base import PlatformEvent
from platforms.cloudfoundry._client import Json
from platforms.cloudfoundry._inventory import dig, text

__all__ = ["EVENT_KINDS", "cc_time", "iso", "to_event"]

EVENT_KINDS: dict[str, str] = {
    "audit.app.process.crash": "crash",
    "app.crash": "crash",
    "audit.app.restart": "restart",
    "audit.app.process.rescheduling": "restart",
    "audit.app.process.scale": "scale",
    "audit.app.start": "start",
    "audit.app.stop": "stop",
    "audit.app.deployment.create": "deployment",
    "audit.app.deployment.cancel": "deployment",
    "audit.app.deployment.continue": "deployment",
    "audit.app.droplet.mapped": "push",
    "audit.app.create": "push",
    "audit.app.droplet.create": "other",
    "audit.app.update": "other",
}


def iso(ts: float) -> str:
    """Unix seconds as a CC timestamp filter value (``2016-06-08T16:41:23Z``)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cc_time(value: Any) -> float:
    """A CC timestamp as unix seconds (0.0 when unreadable)."""
    try:
        return datetime.fromisoformat(text(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _details(kind: str, data: Json) -> dict[str, str]:
    request: Json = data["request"] if isinstance(data.get("request"), dict) else {}
    picks: dict[str, Any] = {}
    if kind == "crash":
        picks = {k: data.get(k) for k in ("index", "exit_description", "reason", "exit_status")}
    elif kind == "scale":
        picks = {"instances": dig(request, "instances"), "process_type": data.get("process_type")}
    elif kind == "deployment":
        picks = {k: data.get(k) for k in ("revision_guid", "droplet_guid", "strategy")}
    elif kind == "restart":
        picks = {"index": data.get("index"), "reason": data.get("reason")}
    return {k: text(v)[:200] for k, v in picks.items() if v not in (None, "")}


def to_event(raw: Json, names: tuple[str, str]) -> PlatformEvent:
    """One audit event; ``names`` the (space, org) names of its space and org."""
    etype = text(raw.get("type"))
    kind = EVENT_KINDS.get(etype, "other")
    data: Json = raw["data"] if isinstance(raw.get("data"), dict) else {}
    details = _details(kind, data)
    app_name = text(dig(raw, "target", "name"))
    space, org = names
    details.update({k: v for k, v in (("app_name", app_name), ("space", space), ("org", org)) if v})
    actor = text(dig(raw, "actor", "name")) or text(dig(raw, "actor", "type"))
    extra = ", ".join(f"{k}={details[k]}" for k in ("index", "instances", "exit_description") if k in details)
    summary = f"{kind} of {app_name or text(dig(raw, 'target', 'guid'))} ({etype})" + (
        f": {extra}" if extra else ""
    )
    return PlatformEvent(
        time=cc_time(raw.get("created_at")),
        app=text(dig(raw, "target", "guid")),
        kind=kind,
        type=etype,
        summary=summary,
        actor=actor,
        details=details,
    )
