"""``/api/v1/slo``: the status of the SLOs the caller's scope covers (Prometheus-style envelope).

``GET /api/v1/slo`` lists them; ``GET /api/v1/slo/{org}/{space}/{name}`` answers one, and 404 when it does
not exist or the caller's scope does not cover its space (the same answer, so a tenant cannot probe for
another tenant's SLOs). Optional ``start``/``end`` (Unix seconds; default: each SLO's window ending now).
A range of up to 366 days over raw series is costly: at most ``max_concurrent`` answers are computed at once
and one per tenant scope (:class:`~platforms.fair_slots.FairSlots`; 429 with Retry-After beyond), and the
queries run with the engine's limits (pass an :class:`~metrics_store.promql.Engine` built from
``metrics_store.query``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CollectorRegistry

from alerting.slo._metrics import SloMetrics
from alerting.slo.spec import Slo
from alerting.slo.status import SloStatus, slo_status
from metrics_store.api_common import success
from metrics_store.base import Querier
from metrics_store.promql import Engine
from platforms.fair_slots import FairSlots
from platforms.tenancy import Scope, scope_of

__all__ = ["slo_router"]

_MAX_RANGE_S = 366 * 86400


def _range(start: float | None, end: float | None, now: float) -> tuple[float | None, float]:
    end_s = now if end is None else end
    if not math.isfinite(end_s) or (start is not None and not math.isfinite(start)):
        raise HTTPException(400, "start and end must be finite Unix seconds")
    if start is not None and not 0 < end_s - start <= _MAX_RANGE_S:
        raise HTTPException(400, "start must be before end, at most 366 days")
    return start, end_s


def slo_router(
    slos: Callable[[], Sequence[Slo]],
    querier: Querier | Engine,
    clock: Callable[[], float] = time.time,
    registry: CollectorRegistry | None = None,
    max_concurrent: int = 4,
) -> APIRouter:
    """``slos`` returns the loaded SLOs (it follows reloads); ``querier`` is the metrics store (or an engine
    over it with the configured limits); metrics (:class:`~alerting.slo._metrics.SloMetrics`) go to
    ``registry`` (default: a private one)."""
    router = APIRouter()
    metrics = SloMetrics(registry or CollectorRegistry(), slos)
    slots = FairSlots(max_concurrent)

    async def compute(
        found: Sequence[Slo], scope: Scope, start_s: float | None, end_s: float
    ) -> list[SloStatus]:
        if not slots.acquire(scope):
            raise HTTPException(
                429, "too many SLO reads at once; retry shortly", headers={"Retry-After": "2"}
            )
        try:
            return counted(await run_in_threadpool(slo_status, querier, found, scope, start_s, end_s))
        finally:
            slots.release(scope)

    def counted(found: list[SloStatus]) -> list[SloStatus]:
        metrics.computed.inc(len(found))
        metrics.errors.inc(sum(1 for s in found if s.error))
        return found

    @router.get("/api/v1/slo")
    async def list_slos(
        request: Request, start: float | None = Query(None), end: float | None = Query(None)
    ) -> Response:
        start_s, end_s = _range(start, end, clock())
        found = await compute(slos(), scope_of(request), start_s, end_s)
        return success([s.to_json() for s in found])

    @router.get("/api/v1/slo/{org}/{space}/{name}")
    async def one_slo(
        request: Request,
        org: str,
        space: str,
        name: str,
        start: float | None = Query(None),
        end: float | None = Query(None),
    ) -> Response:
        start_s, end_s = _range(start, end, clock())
        scope = scope_of(request)
        match = [s for s in slos() if (s.org, s.space, s.name) == (org, space, name)]
        if not match or not scope.sees(org, space):
            raise HTTPException(404, "no such SLO")
        return success((await compute(match, scope, start_s, end_s))[0].to_json())

    return router
