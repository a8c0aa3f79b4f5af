"""Alerts the engine sends to the dispatcher: escalations (a human is needed) and approval requests
(firing until the approval expires, resolved once decided).

Both carry the action's ``org`` and ``space`` labels (when it has them), so the dispatcher can route a
space's approval requests to that space's receivers, and only principals who see the space see them.

An approval request names its action (label ``action_id``) and says where to decide it; it never carries
the signed approve/reject links: anyone who can read alerts (``/api/v2/alerts``, the dashboard) could use
them. The links are minted only into the message a receiver gets, by
:class:`remediation.approval.SignedApprovalLinks`, which the server subscribes to the notifiers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from alerting.base import AlertSink
from alerting.model import Alert
from remediation._journal import describe
from remediation.model import ActionRequest

__all__ = ["APPROVAL_ALERT", "EngineAlerts", "engine_alert_labels"]

APPROVAL_ALERT = "RemediationApprovalPending"  # alertname of approval requests (label action_id: the action)


def engine_alert_labels(req: ActionRequest, alertname: str) -> dict[str, str]:
    """The exact labels of the engine's ``alertname`` alert about ``req``. Signed links are minted only into
    a notification of an alert with these labels: anyone who may post alerts can post one naming any
    ``action_id``, with its own ``org``/``space`` (or a label routing it to a receiver it reads)."""
    labels = {
        "alertname": alertname,
        "policy": req.policy,
        "app": req.target.app,
        "action": req.action,
        "action_id": req.id,
        "severity": "critical" if alertname == "RemediationEscalated" else "warning",
    }
    if req.target.instance is not None:
        labels["app_instance"] = str(req.target.instance)
    labels.update(req.tenant)  # org/space: routed to the space's receivers, seen by its principals
    return labels


log = logging.getLogger("remediation.engine")  # the engine's logger: these records are the engine's


class EngineAlerts:
    """The alerts the engine raises about its own actions (escalations, approval requests), put into an
    :class:`alerting.base.AlertSink`: the dispatcher routes them to receivers (this is not an
    :class:`alerting.base.Notifier`). ``sink`` None: nothing is sent. Approval requests point operators at
    ``external_url``'s Remediation page."""

    def __init__(self, sink: AlertSink | None, *, clock: Callable[[], datetime], external_url: str) -> None:
        self._sink = sink
        self._clock = clock
        self._external_url = external_url.rstrip("/")

    def escalated(self, req: ActionRequest, reason: str) -> None:
        self._send(
            req,
            "RemediationEscalated",
            {"summary": f"{req.policy}: {describe(req)} needs a human", "description": reason},
        )

    def approval_pending(self, req: ActionRequest, expires: datetime) -> None:
        ann = {
            "summary": f"{req.policy} wants to {describe(req)}: approve or reject",
            "expires_at": expires.isoformat(),
            "approval": f"pending — decide at {self._external_url}/remediation (operator) "
            "or via the link sent to the receiver",
        }
        # Firing until the approval expires (not the 5 min resolve timeout); resolved on decision.
        self._send(req, APPROVAL_ALERT, ann, ends_at=expires)

    def approval_decided(self, req: ActionRequest, decision: str) -> None:
        """Resolve the approval request alert: the action was approved, rejected or expired."""
        self._send(
            req,
            APPROVAL_ALERT,
            {"summary": f"{req.policy}: {describe(req)} was {decision}"},
            ends_at=self._clock(),
        )

    def _send(
        self,
        req: ActionRequest,
        alertname: str,
        annotations: dict[str, str],
        *,
        ends_at: datetime | None = None,
    ) -> None:
        if self._sink is None:
            return
        labels = engine_alert_labels(req, alertname)
        try:
            self._sink.put([Alert(labels, annotations, starts_at=self._clock(), ends_at=ends_at)])
        except Exception:  # notification trouble must not break the action's journal
            log.exception("remediation: cannot send %s for %s", alertname, req.id)
