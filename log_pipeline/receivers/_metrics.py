"""Receiver metrics (prometheus-client), registered on an injectable registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

__all__ = ["ReceiverMetrics"]


@dataclass(frozen=True, slots=True)
class ReceiverMetrics:
    received: Counter
    acked: Counter
    errors: Counter
    dropped: Counter
    bytes: Counter
    connections: Gauge
    refused: Counter
    timeouts: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> ReceiverMetrics:
        reg = REGISTRY if registry is None else registry
        return cls(
            received=Counter(
                "paramedic_logs_received", "Messages appended to the spool.", ["transport"], registry=reg
            ),
            acked=Counter(
                "paramedic_logs_acked",
                "Messages acknowledged to the sender (RELP).",
                ["transport"],
                registry=reg,
            ),
            errors=Counter(
                "paramedic_logs_errors",
                "Protocol/framing/spool errors (each ends a connection, except on UDP).",
                ["transport", "reason"],
                registry=reg,
            ),
            dropped=Counter(
                "paramedic_logs_dropped",
                "Messages dropped (UDP: queue full in messages or bytes, datagram over max_message_bytes).",
                ["transport"],
                registry=reg,
            ),
            bytes=Counter("paramedic_logs_received_bytes", "Bytes read.", ["transport"], registry=reg),
            connections=Gauge("paramedic_logs_connections", "Open connections.", ["transport"], registry=reg),
            refused=Counter(
                "paramedic_logs_refused_connections",
                "Connections closed on accept because the listener had max_connections open.",
                ["transport"],
                registry=reg,
            ),
            timeouts=Counter(
                "paramedic_logs_timeouts",
                "Connections closed after idle_timeout_s: idle (nothing received) or incomplete (a message "
                "or frame begun and not finished).",
                ["transport", "reason"],
                registry=reg,
            ),
        )
