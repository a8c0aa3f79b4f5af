"""prometheus-client metrics of the rule engine (injectable registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["RuleMetrics"]


class RuleMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.evaluations = Counter(
            "paramedic_rule_evaluations_total", "Rule evaluations.", ["rule_group"], registry=registry
        )
        self.failures = Counter(
            "paramedic_rule_evaluation_failures_total",
            "Failed rule evaluations.",
            ["rule_group"],
            registry=registry,
        )
        self.duration = Histogram(
            "paramedic_rule_group_duration_seconds",
            "Duration of one evaluation cycle of a rule group.",
            ["rule_group"],
            registry=registry,
        )
        self.alerts = Gauge(
            "paramedic_alerts",
            "Alerts by state after the last evaluation.",
            ["rule_group", "state"],
            registry=registry,
        )
        self.sent = Counter("paramedic_rule_alerts_sent_total", "Alerts sent to the sink.", registry=registry)
