"""``GET /api/v1/targets`` in Prometheus' JSON shape (``state=active|dropped|any``, default any).

Tenancy: a principal scoped to orgs/spaces (:func:`platforms.tenancy.scope_of`) sees the active targets whose
labels its scope covers (an app's targets carry its org/space; platform components none) and no dropped
targets (relabelling dropped them before any org/space could be told); ``/api/v1/collector/health`` counts
its targets only and shows it no discovery errors.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from collector.manager import ScrapeManager
from collector.status import TargetStatus
from collector.targets import format_duration
from platforms.tenancy import scope_of

__all__ = ["target_json", "targets_router"]


def target_json(t: TargetStatus) -> dict[str, Any]:
    return {
        "discoveredLabels": dict(t.discovered_labels),
        "labels": dict(t.labels),
        "scrapePool": t.job,
        "scrapeUrl": t.scrape_url,
        "globalUrl": t.global_url,
        "lastError": t.last_error,
        "lastScrape": (
            t.last_scrape.isoformat().replace("+00:00", "Z") if t.last_scrape else "0001-01-01T00:00:00Z"
        ),
        "lastScrapeDuration": t.last_scrape_duration_s,
        "health": t.health,
        "scrapeInterval": format_duration(t.interval_s),
        "scrapeTimeout": format_duration(t.timeout_s),
    }


def targets_router(manager: ScrapeManager) -> APIRouter:
    router = APIRouter()

    @router.get("/api/v1/targets")
    def targets(request: Request, state: Literal["active", "dropped", "any"] = Query("any")) -> JSONResponse:
        scope = scope_of(request)
        active = (
            [target_json(t) for t in manager.targets() if scope.sees_labels(dict(t.labels))]
            if state in ("active", "any")
            else []
        )
        dropped = (
            [{"discoveredLabels": dict(d.discovered_labels)} for d in manager.dropped_targets()]
            if state in ("dropped", "any") and scope.is_foundation
            else []
        )
        return JSONResponse(
            {"status": "success", "data": {"activeTargets": active, "droppedTargets": dropped}}
        )

    @router.get("/api/v1/collector/health")
    def health(request: Request) -> JSONResponse:
        h = manager.health()
        scope = scope_of(request)
        counts = {"up": h.targets_up, "down": h.targets_down, "unknown": h.targets_unknown}
        errors = h.discovery_errors
        if not scope.is_foundation:  # a tenant: its targets only; discovery errors are the foundation's
            healths = [t.health for t in manager.targets() if scope.sees_labels(dict(t.labels))]
            counts, errors = {k: healths.count(k) for k in counts}, {}
        body = {"ok": h.ok, "running": h.running, "targets": counts, "discoveryErrors": errors}
        return JSONResponse(body, status_code=200 if h.ok else 503)

    return router
