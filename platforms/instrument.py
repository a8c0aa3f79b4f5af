"""How every platform adapter instruments the calls it makes to the platform's components (one vocabulary).

* ``paramedic_platform_calls_total{platform, component, call, outcome}`` — every attempt of a call:
  ``platform`` the adapter (``local``, ``cloudfoundry``), ``component`` what it called (``supervisord``,
  ``haproxy``, ``cc``, ``uaa``, ``log_cache``), ``call`` a bounded name (an XML-RPC method, ``show stat``,
  ``GET /v3/apps/:guid``), ``outcome`` ``ok`` or ``error`` (an HTTP status >= 400, a timeout, a fault);
* ``paramedic_platform_call_duration_seconds{platform, component, call}`` — duration of each attempt;
* ``paramedic_platform_errors_total{platform, component, reason}`` — calls that failed for good (after any
  retries), by reason: the HTTP status, ``timeout``, ``connect_error``, the fault name or exception class;
* ``paramedic_platform_retries_total{platform, component, call}`` — attempts repeated after a transient error.

Adapters create one :class:`PlatformCalls` per component, over the registry they were given; adapters sharing
a registry share the metric families. Thread-safe (prometheus-client metrics are).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["PlatformCalls", "per_registry"]

T = TypeVar("T")


class _Families:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "paramedic_platform_calls_total",
            "Calls made by a platform adapter to a platform component (each attempt), by outcome.",
            ["platform", "component", "call", "outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "paramedic_platform_call_duration_seconds",
            "Duration of each attempt of a platform component call.",
            ["platform", "component", "call"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.errors = Counter(
            "paramedic_platform_errors_total",
            "Platform calls that failed for good (after retries), by component and reason.",
            ["platform", "component", "reason"],
            registry=registry,
        )
        self.retries = Counter(
            "paramedic_platform_retries_total",
            "Platform call attempts repeated after a transient error (5xx, timeout, connection error).",
            ["platform", "component", "call"],
            registry=registry,
        )


def per_registry(build: Callable[[CollectorRegistry], T]) -> Callable[[CollectorRegistry], T]:
    """``build(registry)`` made once per registry (metric families register once; everything over one registry
    shares them), kept no longer than the registry; thread-safe."""
    lock = threading.Lock()
    made: weakref.WeakKeyDictionary[CollectorRegistry, T] = weakref.WeakKeyDictionary()

    def get(registry: CollectorRegistry) -> T:
        with lock:
            value = made.get(registry)
            if value is None:
                value = made[registry] = build(registry)
            return value

    return get


_families = per_registry(_Families)


class PlatformCalls:
    """Records one adapter's calls to one of its platform's components."""

    def __init__(self, registry: CollectorRegistry, platform: str, component: str) -> None:
        self._fams = _families(registry)
        self.platform = platform
        self.component = component

    def attempt(self, call: str, seconds: float, *, ok: bool) -> None:
        """One attempt of ``call`` took ``seconds`` and succeeded (``ok``) or not."""
        self._fams.seconds.labels(self.platform, self.component, call).observe(seconds)
        self._fams.calls.labels(self.platform, self.component, call, "ok" if ok else "error").inc()

    def failed(self, reason: str) -> None:
        """A call failed for good (its error reaches the adapter's caller) because of ``reason``."""
        self._fams.errors.labels(self.platform, self.component, reason).inc()

    def retried(self, call: str) -> None:
        """``call`` is attempted again after a transient error."""
        self._fams.retries.labels(self.platform, self.component, call).inc()
