"""Approval links for notifiers: the providers subscribed by the wiring, and adding them to a message.

Alerting never imports remediation: the server builds the notifiers first with an empty
:class:`ApprovalLinkProviders`, then subscribes remediation's provider to it (as it subscribes the engine
to the rules' alerts). Notifiers ask it while building a message, so the signed links exist only in the
email or webhook body a receiver gets; alert state (dispatcher, v2 API, ``ALERTS``, dashboard) never holds
them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

from alerting.base import ApprovalLinks, DecisionLinks
from alerting.model import Alert, Notification

__all__ = ["ApprovalLinkProviders", "with_decision_annotations"]

log = logging.getLogger(__name__)


class ApprovalLinkProviders:
    """An :class:`~alerting.base.ApprovalLinks` asking each subscribed provider in turn (first answer wins).
    Subscribing is thread-safe; a provider that raises is logged and counts as "no links"."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._providers: tuple[ApprovalLinks, ...] = ()

    def subscribe(self, provider: ApprovalLinks) -> None:
        with self._lock:
            self._providers = (*self._providers, provider)

    def decision_links(self, alert: Alert) -> DecisionLinks | None:
        for provider in self._providers:  # a tuple swapped atomically: no lock on the hot path
            try:
                links = provider.decision_links(alert)
            except Exception:
                log.exception("approval links of %s failed", type(provider).__name__)
                continue
            if links is not None:
                return links
        return None


def with_decision_annotations(notification: Notification, links: ApprovalLinks | None) -> Notification:
    """``notification`` with ``approve_url``/``reject_url`` annotations on copies of the alerts that have
    decision links (the webhook body carries them there); the alerts themselves are not changed."""
    if links is None:
        return notification
    alerts: list[Alert] = []
    for alert in notification.alerts:
        found = links.decision_links(alert)
        if found is None:
            alerts.append(alert)
            continue
        extra = {"approve_url": found.approve_url, "reject_url": found.reject_url}
        alerts.append(replace(alert, annotations={**alert.annotations, **extra}))
    return replace(notification, alerts=alerts)
