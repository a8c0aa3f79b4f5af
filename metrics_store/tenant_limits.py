"""Per-tenant shares of the query API's limits, so one team's queries cannot starve another's.

A request of a tenant scope (a principal scoped to orgs/spaces, :class:`platforms.tenancy.Scope`) is admitted
by :meth:`TenantLimits.admit` under the scope's :attr:`~platforms.tenancy.Scope.key`:

- at most ``metrics_store.query.tenant_max_concurrency`` requests of one scope in flight (waiting for an
  evaluation thread or running); one more is refused at once, 429 ``unavailable``, naming the key. The
  scope cannot fill the API's queue of ``max_concurrency`` threads;
- its queries take their samples and steps from a :class:`SampleBudget` of
  ``tenant_max_inflight_samples`` that is a child of the API's pool (``max_inflight_samples``): what does
  not fit in the child is refused at once (:class:`TenantLimitError`, 429), the rest still waits for room in
  the shared pool as every query does.

Foundation-wide principals are not tenants: only the global limits apply to them. State is kept only for
scopes with a request in flight (an entry is dropped when its last request ends), so memory is bounded by
the requests in flight, not by the number of tenants ever seen.

Metrics: ``paramedic_metrics_api_tenant_refusals_total{reason}`` (``concurrency``, ``inflight_samples``;
not labelled by tenant: scope keys are unbounded) and ``paramedic_metrics_api_tenant_requests_inflight``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from metrics_store.api_common import ApiError
from metrics_store.config import QueryLimits
from metrics_store.promql import SampleBudget, TenantLimitError
from platforms.tenancy import Scope

__all__ = ["TenantLimits"]


@dataclass(slots=True)
class _Tenant:
    budget: SampleBudget
    inflight: int = 0


class TenantLimits:
    """The tenants' shares of ``limits``; ``pool`` is the API's in-flight sample budget (the parent of every
    tenant's). Thread-safe; :meth:`admit` may be entered on the event loop or in a thread."""

    def __init__(
        self, limits: QueryLimits, pool: SampleBudget, *, registry: CollectorRegistry = REGISTRY
    ) -> None:
        self.max_concurrency = limits.tenant_concurrency
        self.max_inflight_samples = limits.tenant_inflight_samples
        self._pool = pool
        self._lock = threading.Lock()
        self._tenants: dict[str, _Tenant] = {}
        self.refusals = Counter(
            "paramedic_metrics_api_tenant_refusals",
            "Query API requests of tenant scopes refused by a per-tenant limit, by reason: concurrency "
            "(tenant_max_concurrency), inflight_samples (tenant_max_inflight_samples).",
            ["reason"],
            registry=registry,
        )
        for reason in ("concurrency", "inflight_samples"):
            self.refusals.labels(reason)
        self.inflight = Gauge(
            "paramedic_metrics_api_tenant_requests_inflight",
            "Query API requests of tenant scopes in flight (all tenants together).",
            registry=registry,
        )

    def _refuse_samples(self) -> TenantLimitError:
        self.refusals.labels("inflight_samples").inc()
        return TenantLimitError("tenant_max_inflight_samples", self.max_inflight_samples)

    @contextlib.contextmanager
    def admit(self, scope: Scope) -> Iterator[SampleBudget | None]:
        """Hold one of ``scope``'s request slots while the block runs; yields the sample budget its queries
        take from (None for the foundation scope: the API's own pool). Raises :class:`ApiError` (429) when
        the scope has ``tenant_max_concurrency`` requests in flight already."""
        if scope.is_foundation:
            yield None
            return
        key = scope.key
        with self._lock:
            tenant = self._tenants.get(key)
            if tenant is None:
                budget = SampleBudget(
                    self.max_inflight_samples, parent=self._pool, refuse=self._refuse_samples
                )
                tenant = self._tenants[key] = _Tenant(budget)
            if tenant.inflight >= self.max_concurrency:
                self.refusals.labels("concurrency").inc()
                raise ApiError(
                    "unavailable",
                    429,
                    f"tenant limit metrics_store.query.tenant_max_concurrency ({self.max_concurrency}) "
                    f"reached: {scope.describe()} has that many queries in flight; retry when they end",
                )
            tenant.inflight += 1
            self.inflight.inc()
        try:
            yield tenant.budget
        finally:
            with self._lock:
                tenant.inflight -= 1
                self.inflight.dec()
                if tenant.inflight == 0:
                    del self._tenants[key]

    def active(self) -> dict[str, int]:
        """Requests in flight per scope key (for tests and debugging)."""
        with self._lock:
            return {key: t.inflight for key, t in self._tenants.items()}
