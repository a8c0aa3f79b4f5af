"""The dispatcher's prometheus-client metrics, registered on an injected registry."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["DispatchMetrics"]


class DispatchMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        reg = registry if registry is not None else CollectorRegistry()
        self.alerts_received = Counter(
            "paramedic_alerting_alerts_received",
            "Alerts received by the dispatcher, by status at receipt.",
            ["status"],
            registry=reg,
        )
        self.alerts_refused = Counter(
            "paramedic_alerting_alerts_refused",
            "Alerts refused by the dispatcher, by reason (max_alerts: alerting.limits.max_alerts active).",
            ["reason"],
            registry=reg,
        )
        self.notifications = Counter(
            "paramedic_alerting_notifications",
            "Notifications by receiver, integration type and result (sent, failed; fenced: a replica that no "
            "longer leads did not send).",
            ["receiver", "integration", "result"],
            registry=reg,
        )
        self.notifications_muted = Counter(
            "paramedic_alerting_notifications_muted",
            "Group flushes skipped because a mute/active time interval applied.",
            ["receiver"],
            registry=reg,
        )
        self.tenant_refusals = Counter(
            "paramedic_alerting_tenant_refusals",
            "Requests of tenant-scoped principals refused for reaching outside their org/space, by action "
            "(post_alerts, silence, expire, ack).",
            ["action"],
            registry=reg,
        )
        self.silences_refused = Counter(
            "paramedic_alerting_silences_refused",
            "New silences refused by a limit, by reason (max_silences, max_silences_per_tenant).",
            ["reason"],
            registry=reg,
        )
        self.silences = Gauge("paramedic_alerting_silences", "Silences by state.", ["state"], registry=reg)
        self.groups = Gauge("paramedic_alerting_aggregation_groups", "Aggregation groups.", registry=reg)

    def watch(self, silence_count: Callable[[str], int], group_count: Callable[[], int]) -> None:
        for state in ("active", "pending", "expired"):
            self.silences.labels(state=state).set_function(lambda s=state: silence_count(s))  # type: ignore[misc]
        self.groups.set_function(group_count)
