"""``GET /api/v1/targets`` in Prometheus' JSON shape (``state=active|dropped|any``, default any)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from collector.manager import ScrapeManager
from collector.status import TargetStatus
from collector.targets import format_duration

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
    def targets(state: Literal["active", "dropped", "any"] = Query("any")) -> JSONResponse:
        active = [target_json(t) for t in manager.targets()] if state in ("active", "any") else []
        dropped = (
            [{"discoveredLabels": dict(d.discovered_labels)} for d in manager.dropped_targets()]
            if state in ("dropped", "any")
            else []
        )
        return JSONResponse(
            {"status": "success", "data": {"activeTargets": active, "droppedTargets": dropped}}
        )

    @router.get("/api/v1/collector/health")
    def health() -> JSONResponse:
        h = manager.health()
        body = {
            "ok": h.ok,
            "running": h.running,
            "targets": {"up": h.targets_up, "down": h.targets_down, "unknown": h.targets_unknown},
            "discoveryErrors": h.discovery_errors,
        }
        return JSONResponse(body, status_code=200 if h.ok else 503)

    return router
