"""Self-instrumentation of the local platform adapter (prometheus-client, injectable registry)."""

from __future__ import annotations

import threading
import weakref

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["PlatformMetrics", "platform_metrics"]


class PlatformMetrics:
    """Counters for every call the adapter makes to a component, by component, call and result, and for every
    adapter action (``actions``: one per public action call, whatever component calls it makes)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "paramedic_platform_calls_total",
            "Calls made by the platform adapter to a platform component.",
            ["platform", "component", "call", "result"],
            registry=registry,
        )
        self.errors = Counter(
            "paramedic_platform_errors_total",
            "Failed platform calls by component and reason (fault name or exception class).",
            ["platform", "component", "reason"],
            registry=registry,
        )
        self.call_seconds = Histogram(
            "paramedic_platform_call_duration_seconds",
            "Duration of platform component calls.",
            ["platform", "component"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10),
            registry=registry,
        )
        self.actions = Counter(
            "paramedic_platform_actions_total",
            "Actions of the platform adapter (scale, restarts, deployments, rollback) by result.",
            ["platform", "action", "result"],
            registry=registry,
        )
        self.action_seconds = Histogram(
            "paramedic_platform_action_duration_seconds",
            "Duration of platform adapter actions, including every component call they make.",
            ["platform", "action"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.targets = Gauge(
            "paramedic_platform_discovered_targets",
            "Targets returned by the last successful discover(), by job.",
            ["platform", "job"],
            registry=registry,
        )


_LOCK = threading.Lock()
_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, PlatformMetrics] = weakref.WeakKeyDictionary()


def platform_metrics(registry: CollectorRegistry = prometheus_client.REGISTRY) -> PlatformMetrics:
    """The metrics registered in ``registry``; adapters sharing a registry share them (no duplicate error)."""
    with _LOCK:
        metrics = _BY_REGISTRY.get(registry)
        if metrics is None:
            metrics = PlatformMetrics(registry)
            _BY_REGISTRY[registry] = metrics
        return metrics
