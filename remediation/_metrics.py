"""The engine's Prometheus metrics, registered into the registry it is given."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["RemediationMetrics"]


class RemediationMetrics:
    """Metric families of the remediation engine (``paramedic_remediation_*``), registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        p = "paramedic_remediation_"
        self.alerts_received = Counter(
            p + "alerts_received", "Alerts received by put()/handle().", registry=registry
        )
        self.alerts_dropped = Counter(
            p + "alerts_dropped", "Alerts dropped because the engine queue was full.", registry=registry
        )
        self.requests = Counter(
            p + "requests", "Action requests by policy and outcome.", ["policy", "outcome"], registry=registry
        )
        self.deduplicated = Counter(
            p + "requests_deduplicated", "Repeats of an already recorded request, ignored.", registry=registry
        )
        self.refusals = Counter(p + "refusals", "Requests refused, by rail.", ["rail"], registry=registry)
        self.platform_calls = Counter(
            p + "platform_calls", "Platform calls by call and result.", ["call", "result"], registry=registry
        )
        self.duration = Histogram(
            p + "action_duration_seconds",
            "Time from start to the action's result (before verification).",
            ["action"],
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
            registry=registry,
        )
        self.verifications = Counter(
            p + "verifications", "Verification results.", ["result"], registry=registry
        )
        self.breakers_open = Gauge(p + "circuit_breakers_open", "Open circuit breakers.", registry=registry)
        self.pending_approvals = Gauge(
            p + "pending_approvals", "Actions waiting for approval.", registry=registry
        )
        self.gate_evaluations = Counter(
            p + "gate_evaluations",
            "Canary gate verdicts of blue-green steps, by gate and result (pass, fail, inconclusive).",
            ["gate", "result"],
            registry=registry,
        )
        self.canary_steps = Counter(
            p + "canary_steps",
            "Blue-green steps judged, by verdict (continue, cancel).",
            ["verdict"],
            registry=registry,
        )
        self.running = Gauge(p + "running_actions", "Actions executing or verifying now.", registry=registry)
        self.tenant_lookups = Counter(
            p + "tenant_lookups",
            "Lookups of an app's org/space on the platform (not cached), by result (found, none, error).",
            ["result"],
            registry=registry,
        )
