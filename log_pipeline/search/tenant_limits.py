"""Per-tenant admission of log reads: one tenant scope cannot take every search worker and queue slot.

:class:`TenantSearchLimiter` counts the searches, histograms, context and pattern reads of each tenant scope
(:attr:`platforms.tenancy.Scope.key`: every principal scoped to the same orgs/spaces shares it) that are
running or waiting; past ``logs.search_api.max_searches_per_tenant`` a new one is refused with
:class:`TenantLimitError` (HTTP 429 naming the limit) before it reaches the workers. Foundation-wide
principals are not counted (the global limits of the workers apply to everyone).

Metrics: ``paramedic_log_search_tenant_refused_total{reason}`` (``tenant_searches``; live tails count their
refusals in ``paramedic_log_tail_refused_total{reason="tenant_subscribers"}``),
``paramedic_log_search_tenant_active`` (admitted tenant reads in all).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge

from platforms.tenancy import Scope

__all__ = ["TenantLimitError", "TenantSearchLimiter"]


class TenantLimitError(Exception):
    """A tenant scope holds its share; ``reason`` is the counter's label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class TenantSearchLimiter:
    def __init__(self, max_per_tenant: int, registry: CollectorRegistry) -> None:
        if max_per_tenant < 1:
            raise ValueError("max_per_tenant must be >= 1")
        self.max_per_tenant = max_per_tenant
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}
        self._refused = Counter(
            "paramedic_log_search_tenant_refused",
            "Log reads refused by a per-tenant limit: tenant_searches (the tenant scope has "
            "logs.search_api.max_searches_per_tenant reads running or waiting).",
            ["reason"],
            registry=registry,
        )
        self._active = Gauge(
            "paramedic_log_search_tenant_active",
            "Log reads of tenant scopes running or waiting.",
            registry=registry,
        )

    def held(self, scope: Scope) -> int:
        with self._lock:
            return self._held.get(scope.key, 0)

    @contextmanager
    def admit(self, scope: Scope) -> Iterator[None]:
        """Hold one of ``scope``'s slots for the body; :class:`TenantLimitError` when none is free."""
        if scope.is_foundation:
            yield
            return
        key = scope.key
        with self._lock:
            held = self._held.get(key, 0)
            if held >= self.max_per_tenant:
                self._refused.labels("tenant_searches").inc()
                raise TenantLimitError(
                    "tenant_searches",
                    f"the scope {scope.describe()} already has {held} log searches running or waiting "
                    f"(logs.search_api.max_searches_per_tenant {self.max_per_tenant}): try again",
                )
            self._held[key] = held + 1
            self._active.inc()
        try:
            yield
        finally:
            with self._lock:
                left = self._held.pop(key, 1) - 1
                if left > 0:
                    self._held[key] = left
                self._active.dec()
