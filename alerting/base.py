"""Seams of alerting (one small Protocol each).

* :class:`AlertSink` — where alerts go: the rule engine sends to it; the dispatcher (grouping, routing,
  silences, inhibition) implements it, and so does ``POST /api/v2/alerts``. Thread-safe; never blocks long.
* :class:`Notifier` — one receiver integration (email, webhook). Returns a :class:`NotifyResult`; the retry
  policy (2xx done, 5xx/timeouts retried with backoff, other 4xx permanent) is written once, around notifiers.
* :class:`Explainer` — gathers the "why" for a notification (values, threshold, series around the firing time,
  the app's log patterns, recent deployments/remediations); notifiers render it.
* :class:`ApprovalLinks` — mints the signed approve/reject links of an alert that asks a human to decide
  (remediation's pending approvals), for the notifier building the message to its receiver. Those links are
  never part of alert state: the dispatcher, the v2 API, ``ALERTS`` and the dashboard never see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from alerting.model import Alert, Notification

__all__ = [
    "AlertSink",
    "AlertingError",
    "ApprovalLinks",
    "DecisionLinks",
    "Explainer",
    "Explanation",
    "Notifier",
    "NotifyFence",
    "NotifyResult",
]


class AlertingError(Exception):
    """Base of every alerting error; driver/SMTP/HTTP errors are chained as ``__cause__``."""


@dataclass(frozen=True, slots=True)
class NotifyResult:
    ok: bool
    retry: bool = False  # only meaningful when not ok: True for 5xx/timeouts, False for permanent failures
    reason: str = ""


@dataclass(slots=True)
class Explanation:
    """Context for one alert, each part optional (empty when the source has nothing)."""

    values: dict[str, float] = field(default_factory=dict)  # e.g. {"value": 0.12, "threshold": 0.05}
    series: list[tuple[dict[str, str], list[tuple[float, float]]]] = field(default_factory=list)
    log_patterns: list[dict[str, Any]] = field(default_factory=list)  # template, count, first_seen, sample
    events: list[dict[str, Any]] = field(default_factory=list)  # deployments, remediation actions
    # what the platform did to the app before the alert ("2 crashes of instance 1 in the last 10 min"),
    # and why not when its events could not be read
    platform_summary: list[str] = field(default_factory=list)
    platform_note: str = ""
    links: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class AlertSink(Protocol):
    def put(self, alerts: Sequence[Alert]) -> None:
        """Accept new or updated alerts (same fingerprint = same alert)."""
        ...


@runtime_checkable
class Notifier(Protocol):
    async def notify(self, notification: Notification) -> NotifyResult: ...


@runtime_checkable
class Explainer(Protocol):
    async def explain(self, alert: Alert) -> Explanation: ...


@dataclass(frozen=True, slots=True)
class DecisionLinks:
    """Signed links deciding one pending approval: whoever holds one can use it (once, until it expires), so
    they go only into the message a receiver gets, never into anything the API serves."""

    approve_url: str
    reject_url: str


@runtime_checkable
class ApprovalLinks(Protocol):
    """Owned by the subscriber that asks for decisions (remediation); alerting only calls it. Called on the
    event loop each time a notifier builds a message (retries included): fast, non-blocking."""

    def decision_links(self, alert: Alert) -> DecisionLinks | None:
        """The links deciding what ``alert`` asks for, or None (not an approval request, or no longer
        pending)."""
        ...


class NotifyFence(Protocol):
    """Where a replicated Paramedic records a notification before sending it (``paramedic.cluster``'s
    ``ClusterNode``): the write is conditioned on the sender still holding the leader lease and carries its
    fencing token. Called from the dispatcher's event loop; a blocking round trip with a short timeout."""

    def commit(self, kind: str, key: str, doc: dict[str, Any], *, ttl_s: int | None = None) -> bool:
        """True when recorded (go ahead and send); False when refused (this replica must not notify).
        ``ttl_s``: the record may be dropped after that long (the notification log's retention)."""
        ...
