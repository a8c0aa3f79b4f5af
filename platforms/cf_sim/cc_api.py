"""The simulated Cloud Controller's FastAPI app: the root documents, ``/v3/info``, CF error bodies, request
size limits, rate limiting and metrics around the route tables of ``cc_routes_*``.

Errors are CF's ``{"errors": [{"code", "title", "detail"}]}``: unknown routes 404 ``CF-NotFound`` (10000), bad
JSON 400 ``CF-MessageParseError`` (1001), bodies over 64 KiB 413, plus whatever the routes raise
(:class:`platforms.cf_sim.cc_model.CCError`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from platforms.cf_sim.cc_auth import RateLimiter
from platforms.cf_sim.cc_context import MAX_BODY_BYTES, CCContext
from platforms.cf_sim.cc_model import CCError
from platforms.cf_sim.cc_routes_apps import app_routes
from platforms.cf_sim.cc_routes_deploy import deploy_routes
from platforms.cf_sim.cc_routes_org import org_routes
from platforms.cf_sim.sim_metrics import SimMetrics
from platforms.cf_sim.tokens import InvalidTokenError

__all__ = ["CC_API_VERSION", "cc_app"]

CC_API_VERSION = "3.180.0"
_V3_RESOURCES = (
    "app_usage_events",
    "apps",
    "audit_events",
    "buildpacks",
    "builds",
    "deployments",
    "domains",
    "droplets",
    "environment_variable_groups",
    "feature_flags",
    "info",
    "isolation_segments",
    "organizations",
    "organization_quotas",
    "packages",
    "processes",
    "resource_matches",
    "roles",
    "routes",
    "security_groups",
    "service_brokers",
    "service_instances",
    "service_offerings",
    "service_plans",
    "service_usage_events",
    "spaces",
    "space_quotas",
    "stacks",
    "tasks",
    "users",
)


def _error(exc: CCError, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"errors": [{"code": exc.code, "title": exc.title, "detail": exc.detail}]}
    return JSONResponse(body, exc.status, headers=headers)


def _root(ctx: CCContext) -> dict[str, Any]:
    base = ctx.base
    links: dict[str, Any] = {
        "self": {"href": base},
        "cloud_controller_v2": None,
        "cloud_controller_v3": {"href": f"{base}/v3", "meta": {"version": CC_API_VERSION}},
        "network_policy_v0": None,
        "network_policy_v1": None,
        "login": {"href": ctx.uaa_url},
        "uaa": {"href": ctx.uaa_url},
        "credhub": None,
        "routing": None,
        "logging": None,
        "log_cache": None,
        "log_stream": None,
        "app_ssh": None,
    }
    for name, url in ctx.extra_links.items():
        links[name] = {"href": url}
    return {"links": links}


def _rate_key(ctx: CCContext, request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        try:
            claims = ctx.issuer.verify(token.strip())
        except InvalidTokenError:
            pass
        else:
            return f"user:{claims.get('user_id') or claims.get('client_id')}"
    return f"ip:{request.client.host if request.client else '?'}"


def _limiter_middleware(
    ctx: CCContext, limiter: RateLimiter
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def limit(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return _error(
                CCError(413, 10004, "CF-InvalidRequest", f"Request body over {MAX_BODY_BYTES} bytes")
            )
        if "transfer-encoding" in request.headers:  # bodies must declare their length (and fit the limit)
            return _error(CCError(411, 10004, "CF-InvalidRequest", "Length Required"))
        quota = limiter.take(_rate_key(ctx, request))
        now = ctx.state.clock()
        if not quota.allowed:
            exc = CCError(429, 10013, "CF-RateLimitExceeded", "Rate Limit Exceeded")
            return _error(exc, quota.headers(now))
        response = await call_next(request)
        response.headers.update(quota.headers(now))
        return response

    return limit


def cc_app(ctx: CCContext, metrics: SimMetrics, limiter: RateLimiter) -> FastAPI:
    """The CC's app over ``ctx``; ``limiter`` is the per-user/client rate limit."""
    app = FastAPI(title="CF simulator Cloud Controller", docs_url=None, redoc_url=None, openapi_url=None)
    app.middleware("http")(_limiter_middleware(ctx, limiter))
    app.middleware("http")(metrics.middleware("cc"))  # outermost: counts the 429s too

    @app.exception_handler(CCError)
    async def cc_error(_: Request, exc: CCError) -> JSONResponse:
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def parse_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(CCError(400, 1001, "CF-MessageParseError", "Request invalid due to parse error"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            return _error(CCError(405, 10000, "CF-NotFound", "Method not allowed"))
        return _error(CCError(404, 10000, "CF-NotFound", "Unknown request"))

    @app.get("/")
    def root() -> dict[str, Any]:
        return _root(ctx)

    @app.get("/v3")
    def v3_root() -> dict[str, Any]:
        links: dict[str, dict[str, Any]] = {"self": {"href": f"{ctx.base}/v3"}}
        links.update({name: {"href": f"{ctx.base}/v3/{name}"} for name in _V3_RESOURCES})
        links["service_instances"]["experimental"] = True  # as CF marks it
        return {"links": links}

    @app.get("/v3/info")
    def info() -> dict[str, Any]:
        return {
            "build": "cfsim",
            "cli_version": {"minimum": "8.0.0", "recommended": "8.7.0"},
            "custom": {},
            "description": "Paramedic's CF-compatible simulation (not Cloud Foundry)",
            "name": "cf-simulator",
            "version": 3,
            "osbapi_version": "2.15",
            "rate_limits": {
                "enabled": True,
                "general_limit": limiter.limit,
                "reset_interval_in_minutes": max(1, round(limiter.window_s / 60)),
            },
            "links": {"self": {"href": f"{ctx.base}/v3/info"}, "support": {"href": ctx.base}},
        }

    for router in (app_routes(ctx), org_routes(ctx), deploy_routes(ctx)):
        app.include_router(router)
    return app
