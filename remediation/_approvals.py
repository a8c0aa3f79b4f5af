"""Actions waiting for a human: the pending set with each approval's expiry, the expiry sweep, and the
approval alert (sent when an action starts waiting, resolved once approved, rejected or expired)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from remediation._alerts import APPROVAL_ALERT, EngineAlerts, engine_alert_labels
from remediation._journal import Journal
from remediation._metrics import RemediationMetrics
from remediation.model import ActionRecord, ActionRequest, EventKind

__all__ = ["Approvals"]


class Approvals:
    def __init__(
        self,
        journal: Journal,
        alerts: EngineAlerts,
        metrics: RemediationMetrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._journal = journal
        self._alerts = alerts
        self._metrics = metrics
        self._clock = clock
        # action id -> (expires at, the labels of its approval alert); replaced whole, never mutated, so a
        # notifier thread's single dict.get sees a consistent pair
        self._pending: dict[str, tuple[datetime, dict[str, str]]] = {}

    def request(self, req: ActionRequest, expires: datetime) -> None:
        """``req`` passed the rails but needs approval before ``expires``: journal it and ask."""
        self._journal.event(req.id, "pending_approval", {"expires_at": expires.isoformat()})
        self._pending[req.id] = (expires, engine_alert_labels(req, APPROVAL_ALERT))
        self._metrics.pending_approvals.set(len(self._pending))
        self._journal.outcome(req, "pending_approval")
        self._alerts.approval_pending(req, expires)

    def link_terms(self, action_id: str) -> tuple[datetime, dict[str, str]] | None:
        """When the approval of ``action_id`` expires and the labels of the engine's own approval alert for
        it, or None unless it is pending now (the pending set is only changed on the event loop; this one
        ``dict.get`` is also called from the notifiers' worker threads, which build the approval e-mail and
        webhook)."""
        terms = self._pending.get(action_id)
        return terms if terms is not None and self._clock() < terms[0] else None

    def restore(self, req: ActionRequest, expires: datetime) -> None:
        """Keep waiting for an approval requested before a restart (the gauge follows at the next sweep)."""
        self._pending[req.id] = (expires, engine_alert_labels(req, APPROVAL_ALERT))

    def sweep(self) -> None:
        """Expire the approvals not decided in time."""
        now = self._clock()
        for aid, (expires, _) in list(self._pending.items()):
            if now >= expires:
                self._pending.pop(aid, None)
                self._journal.event(aid, "expired", {"expired_at": expires.isoformat()})
                rec = self._journal.audit.get(aid)
                if rec is not None:
                    self._journal.outcome(rec.request, "expired")
                    self._alerts.approval_decided(rec.request, "not decided in time (expired)")
        self._metrics.pending_approvals.set(len(self._pending))

    def claim(self, rec: ActionRecord) -> bool:
        """Take ``rec`` out of the pending set for a decision; False unless it is pending approval."""
        if rec.status != "pending_approval":
            return False
        self._pending.pop(rec.request.id, None)
        self._metrics.pending_approvals.set(len(self._pending))
        return True

    def decided(self, req: ActionRequest, kind: EventKind, data: dict[str, Any], decision: str) -> None:
        """Journal a claimed approval's decision (``approved``/``rejected``) and resolve its alert."""
        self._journal.event(req.id, kind, data)
        self._journal.outcome(req, kind)
        self._alerts.approval_decided(req, decision)
