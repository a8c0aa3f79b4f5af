"""The simulator's own metrics (prometheus-client, in the registry the runner is given).

* ``paramedic_cfsim_requests_total{api,route,code}``: every request the CC or UAA app answered; ``route`` is
  the route template (``/v3/apps/{guid}``), never the raw path, so GUIDs do not explode the label set
* ``paramedic_cfsim_rate_limited_total{api}``: requests answered 429
* ``paramedic_cfsim_audit_events_total{type}``: audit events recorded
* ``paramedic_cfsim_tokens_issued_total{grant}``: access tokens the UAA issued, by grant type
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.requests import Request
from starlette.responses import Response

from platforms.instrument import per_registry

__all__ = ["SimMetrics", "sim_metrics"]


@dataclass(frozen=True, slots=True)
class SimMetrics:
    requests: Counter
    request_seconds: Histogram
    rate_limited: Counter
    audit_events: Counter
    tokens: Counter

    def middleware(
        self, api: str
    ) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
        """An HTTP middleware counting each answered request under ``api`` (``cc`` or ``uaa``)."""

        async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            started = time.monotonic()
            response = await call_next(request)
            route = request.scope.get("route")
            template = str(getattr(route, "path", "unmatched"))
            self.requests.labels(api, template, str(response.status_code)).inc()
            self.request_seconds.labels(api).observe(time.monotonic() - started)
            if response.status_code == 429:
                self.rate_limited.labels(api).inc()
            return response

        return count


def _build(registry: CollectorRegistry) -> SimMetrics:
    return SimMetrics(
        requests=Counter(
            "paramedic_cfsim_requests",
            "Requests answered by the CF simulator",
            ["api", "route", "code"],
            registry=registry,
        ),
        request_seconds=Histogram(
            "paramedic_cfsim_request_seconds", "CF simulator request latency", ["api"], registry=registry
        ),
        rate_limited=Counter(
            "paramedic_cfsim_rate_limited",
            "Requests the CF simulator answered 429",
            ["api"],
            registry=registry,
        ),
        audit_events=Counter(
            "paramedic_cfsim_audit_events",
            "Audit events the CF simulator recorded",
            ["type"],
            registry=registry,
        ),
        tokens=Counter(
            "paramedic_cfsim_tokens_issued",
            "Access tokens the simulated UAA issued",
            ["grant"],
            registry=registry,
        ),
    )


sim_metrics = per_registry(_build)
