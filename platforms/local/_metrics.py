"""Self-instrumentation of the local platform adapter (prometheus-client, injectable registry)."""

from __future__ import annotations

import threading
import weakref

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from platforms.instrument import PlatformCalls

__all__ = ["PlatformMetrics", "platform_metrics"]


class PlatformMetrics:
    """Calls the adapter makes to supervisord and HAProxy (:mod:`platforms.instrument`'s shared vocabulary),
    and every adapter action (``actions``: one per public action call, whatever component calls it makes)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.supervisord = PlatformCalls(registry, "local", "supervisord")
        self.haproxy = PlatformCalls(registry, "local", "haproxy")
        self.adapter = PlatformCalls(registry, "local", "adapter")  # errors of actions (exception class)
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
