"""Per-receiver delivery metrics (``paramedic_notify_*``, labels ``receiver`` and ``reason``)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

__all__ = ["DeliveryMetrics", "reason_category"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def reason_category(reason: str) -> str:
    """The metric label of a :class:`~alerting.base.NotifyResult` reason: the part before the first colon."""
    head = reason.split(":", 1)[0].strip()
    return head if head and len(head) <= 32 and head.replace("_", "").isalnum() else "other"


class DeliveryMetrics:
    """Metric families for notification delivery, registered in ``registry`` (one instance per registry)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        r = ["receiver"]
        self.received = Counter(
            "paramedic_notify_notifications",
            "Notifications handed to the retry policy.",
            r,
            registry=registry,
        )
        self.attempts = Counter(
            "paramedic_notify_attempts", "Delivery attempts (each retry counts).", r, registry=registry
        )
        self.sent = Counter(
            "paramedic_notify_sent",
            "Notifications delivered (after the successful attempt).",
            r,
            registry=registry,
        )
        self.errors = Counter(
            "paramedic_notify_errors",
            "Failed delivery attempts by reason.",
            [*r, "reason"],
            registry=registry,
        )
        self.dropped = Counter(
            "paramedic_notify_dropped",
            "Notifications given up: permanent failure or retry deadline reached.",
            [*r, "reason"],
            registry=registry,
        )
        self.latency = Histogram(
            "paramedic_notify_attempt_duration_seconds",
            "Duration of one delivery attempt.",
            r,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
