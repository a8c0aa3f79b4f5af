"""``GET /api/v1/capacity``: the foundation's capacity outlook as JSON (:meth:`CapacityOutlook.to_json`).

Cells are foundation data: a principal scoped to orgs or spaces gets 403 naming its scope, never a cell.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import prometheus_client
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

from metrics_store.base import Querier
from metrics_store.promql import Engine
from platforms.capacity._metrics import CapacityMetrics
from platforms.capacity.outlook import CapacityError, CapacityOutlook, capacity_outlook
from platforms.capacity.settings import CapacitySettings
from platforms.tenancy import scope_of

__all__ = ["CapacityService", "capacity_router"]


class CapacityService:
    """Computes outlooks over ``source`` and counts them (what the API, the page and reports call). An outlook
    is kept ``ttl_s`` (capacity moves over days; a page reloaded in a loop must not rerun weeks of queries).
    Thread-safe: one outlook is computed at a time."""

    def __init__(
        self,
        source: Querier | Engine,
        *,
        settings: CapacitySettings | None = None,
        clock: Callable[[], float] = time.time,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
        ttl_s: float = 60.0,
    ) -> None:
        self.engine = source if isinstance(source, Engine) else Engine(source, registry=CollectorRegistry())
        self.settings = settings or CapacitySettings()
        self.clock = clock
        self.ttl_s = ttl_s
        self.metrics = CapacityMetrics(registry)
        self._lock = threading.Lock()
        self._last: CapacityOutlook | None = None

    def outlook(self) -> CapacityOutlook:
        """The outlook now (or of less than ``ttl_s`` ago); :class:`CapacityError` (counted) when the store
        fails."""
        with self._lock:
            now = self.clock()
            if self._last is not None and 0 <= now - self._last.at_s < self.ttl_s:
                return self._last
            with self.metrics.duration.time():
                try:
                    result = capacity_outlook(self.engine, now, self.settings)
                except CapacityError:
                    self.metrics.errors.labels("query").inc()
                    raise
            self.metrics.outlooks.inc()
            self.metrics.free_chunks.set(result.memory_chunks_free)
            self.metrics.cells_needed.set(result.cells_needed)
            self._last = result
            return result

    def outlook_json(self) -> dict[str, Any]:
        """:meth:`outlook` as JSON data (what the dashboard's Capacity page renders)."""
        return self.outlook().to_json()

    def refuse(self) -> None:
        self.metrics.errors.labels("scope").inc()


def capacity_router(service: CapacityService) -> APIRouter:
    """The router serving ``/api/v1/capacity`` from ``service``."""
    router = APIRouter()

    @router.get("/api/v1/capacity")
    def capacity(request: Request) -> JSONResponse:
        scope = scope_of(request)
        if not scope.is_foundation:
            service.refuse()
            return JSONResponse(
                {"error": f"cell capacity is foundation data: your scope is {scope.describe()}"},
                status_code=403,
            )
        try:
            return JSONResponse(service.outlook().to_json())
        except CapacityError as exc:
            return JSONResponse({"error": f"capacity: {exc}"}, status_code=503)

    return router
