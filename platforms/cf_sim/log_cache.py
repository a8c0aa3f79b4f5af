"""The simulated Log Cache's HTTP API (FastAPI): PromQL queries, ``meta`` and ``read``, behind bearer auth.

Routes, as Log Cache's gateway serves them (log-cache-release, ``logcache_v1`` Egress/PromQLQuerier):

* ``GET /api/v1/query?query=&time=`` and ``GET /api/v1/query_range?query=&start=&end=&step=``: the Prometheus
  HTTP API JSON (``{"status":"success","data":{"resultType":...,"result":[...]}}``; errors
  ``{"status":"error","errorType":"bad_data","error":...}``). Metric names are envelope names with ``.``/``-``
  → ``_``; every series has ``source_id`` plus the envelope's tags. Evaluated by a real independent engine
  (:mod:`platforms.cf_sim.log_cache_promql`), never Paramedic's.
* ``GET /api/v1/meta``: ``{"meta":{"<source_id>":{"count","expired","oldestTimestamp","newestTimestamp"}}}``,
  numbers as strings (protojson int64), times in ns.
* ``GET /api/v1/read/<source_id>?start_time=&end_time=&limit=&envelope_types=&descending=``:
  ``{"envelopes":{"batch":[...]}}`` with Loggregator v2 envelopes in protojson
  (``gauge``/``counter``/``timer``).

Every route needs ``Authorization: bearer <token>`` accepted by ``verify_token`` (pluggable: the simulated
UAA's verifier in the demo, a plain function in tests); else 401. Limits: a query ≤ 4096 characters,
``query_range`` ≤ 11,000 steps, ``read`` ``limit`` ≤ 1000 (Log Cache's own maximum).
Metrics: ``paramedic_cf_sim_log_cache_requests_total{route,code}``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter

from platforms.cf_sim.log_cache_promql import PromQLEngine, PromQLError
from platforms.cf_sim.log_cache_store import ENVELOPE_KINDS, EnvelopeStore, Point
from platforms.instrument import per_registry

__all__ = ["MAX_QUERY_CHARS", "MAX_RANGE_STEPS", "MAX_READ_LIMIT", "LogCache", "create_log_cache_app"]

MAX_QUERY_CHARS = 4096
MAX_RANGE_STEPS = 11_000
MAX_READ_LIMIT = 1000
_MAX_PARAM_CHARS = 64


class LogCache:
    """Envelope store + PromQL engine: ``append`` stores points in both (engine write failures are raised)."""

    def __init__(self, envelopes: EnvelopeStore, engine: PromQLEngine) -> None:
        self.envelopes = envelopes
        self.engine = engine

    def append(self, points: Iterable[Point]) -> int:
        kept = self.envelopes.append(points)
        if kept:
            self.engine.write(kept)
        return len(kept)


def _requests_counter(registry: CollectorRegistry) -> Counter:
    return Counter(
        "paramedic_cf_sim_log_cache_requests",
        "Requests to the simulated Log Cache API, by route and HTTP status.",
        ["route", "code"],
        registry=registry,
    )


_requests = per_registry(_requests_counter)


class _BadRequestError(Exception):
    pass


def _error(status: int, error_type: str, message: str) -> JSONResponse:
    return JSONResponse({"status": "error", "errorType": error_type, "error": message}, status_code=status)


def _param(request: Request, name: str, *, required: bool, max_chars: int = _MAX_PARAM_CHARS) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        if required:
            raise _BadRequestError(f"missing parameter {name!r}")
        return None
    if len(value) > max_chars:
        raise _BadRequestError(f"parameter {name!r} longer than {max_chars} characters")
    return value


_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _seconds(value: str, name: str, *, duration: bool = False) -> float:
    """Unix seconds or an RFC 3339 time (``time``/``start``/``end``); seconds or ``15s``/``1m`` (``step``)."""
    m = _DURATION.match(value) if duration else None
    try:
        if m:
            number = float(m[1]) * _UNIT_S[m[2]]
        elif not duration and "T" in value:  # RFC 3339
            number = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        else:
            number = float(value)
    except ValueError as exc:
        raise _BadRequestError(f"parameter {name!r}: not a time or duration: {value!r}") from exc
    if not math.isfinite(number):
        raise _BadRequestError(f"parameter {name!r}: not finite")
    return number


def _int(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise _BadRequestError(f"parameter {name!r}: not an integer: {value!r}") from exc


def envelope_json(p: Point) -> dict[str, Any]:
    """A point as a Loggregator v2 envelope in protojson (int64 as strings)."""
    tags = {k: v for k, v in p.tags.items() if k != "instance_id"}
    env: dict[str, Any] = {
        "timestamp": str(p.time_ns),
        "source_id": p.source_id,
        "instance_id": p.tags.get("instance_id", p.tags.get("index", "")),
        "tags": tags,
    }
    if p.kind == "counter":
        env["counter"] = {"name": p.name, "total": str(round(p.value))}
    elif p.kind == "timer":
        env["timer"] = {"name": p.name, "start": str(p.time_ns - round(p.value)), "stop": str(p.time_ns)}
    else:
        env["gauge"] = {"metrics": {p.name: {"unit": p.unit, "value": p.value}}}
    return env


class LogCacheHandlers:
    """The route handlers (sync: FastAPI runs them in its thread pool, the engine client blocks)."""

    def __init__(
        self, cache: LogCache, verify_token: Callable[[str], bool], registry: CollectorRegistry
    ) -> None:
        self.cache = cache
        self.verify_token = verify_token
        self.requests = _requests(registry)

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and bool(token.strip()) and self.verify_token(token.strip())

    def _run(self, route: str, request: Request, answer: Callable[[], dict[str, Any]]) -> JSONResponse:
        if not self._authorized(request):
            response = JSONResponse({"error": "unauthorized"}, status_code=401)
        else:
            try:
                response = JSONResponse(answer())
            except _BadRequestError as exc:
                response = _error(400, "bad_data", str(exc))
            except PromQLError as exc:
                response = _error(exc.status, exc.error_type, str(exc))
        self.requests.labels(route, str(response.status_code)).inc()
        return response

    @staticmethod
    def _shape(body: dict[str, Any]) -> dict[str, Any]:
        data = body.get("data") or {}
        return {
            "status": "success",
            "data": {"resultType": data.get("resultType"), "result": data.get("result") or []},
        }

    def query(self, request: Request) -> JSONResponse:
        def answer() -> dict[str, Any]:
            params = {"query": str(_param(request, "query", required=True, max_chars=MAX_QUERY_CHARS))}
            at = _param(request, "time", required=False)
            params["time"] = str(_seconds(at, "time")) if at is not None else f"{time.time():.3f}"
            return self._shape(self.cache.engine.query(params))

        return self._run("query", request, answer)

    def query_range(self, request: Request) -> JSONResponse:
        def answer() -> dict[str, Any]:
            query = str(_param(request, "query", required=True, max_chars=MAX_QUERY_CHARS))
            start = _seconds(str(_param(request, "start", required=True)), "start")
            end = _seconds(str(_param(request, "end", required=True)), "end")
            step = _seconds(str(_param(request, "step", required=True)), "step", duration=True)
            if step <= 0 or end < start:
                raise _BadRequestError("need step > 0 and end >= start")
            if (end - start) / step > MAX_RANGE_STEPS:
                raise _BadRequestError(f"more than {MAX_RANGE_STEPS} steps; raise step or shorten the range")
            params = {"query": query, "start": str(start), "end": str(end), "step": str(step)}
            return self._shape(self.cache.engine.query_range(params))

        return self._run("query_range", request, answer)

    def meta(self, request: Request) -> JSONResponse:
        return self._run("meta", request, lambda: {"meta": self.cache.envelopes.meta()})

    def read(self, request: Request, source_id: str) -> JSONResponse:
        def answer() -> dict[str, Any]:
            start = _int(_param(request, "start_time", required=False), "start_time", 0)
            end = _int(_param(request, "end_time", required=False), "end_time", time.time_ns())
            limit = _int(_param(request, "limit", required=False), "limit", 100)
            if not 1 <= limit <= MAX_READ_LIMIT:
                raise _BadRequestError(f"limit must be 1..{MAX_READ_LIMIT}")
            kinds = {t.lower() for t in request.query_params.getlist("envelope_types")[:8]}
            if kinds - set(ENVELOPE_KINDS):
                known = ", ".join(k.upper() for k in ENVELOPE_KINDS)
                raise _BadRequestError(f"envelope_types: known {known}")
            descending = (_param(request, "descending", required=False) or "false").lower() == "true"
            points = self.cache.envelopes.read(
                source_id[:256], start, end, limit, frozenset(kinds or ENVELOPE_KINDS), descending
            )
            return {"envelopes": {"batch": [envelope_json(p) for p in points]}}

        return self._run("read", request, answer)


def create_log_cache_app(
    cache: LogCache, *, verify_token: Callable[[str], bool], registry: CollectorRegistry
) -> FastAPI:
    """The Log Cache API over ``cache``; ``verify_token(token) -> bool`` decides every request."""
    handlers = LogCacheHandlers(cache, verify_token, registry)
    router = APIRouter()
    router.add_api_route("/api/v1/query", handlers.query, methods=["GET"])
    router.add_api_route("/api/v1/query_range", handlers.query_range, methods=["GET"])
    router.add_api_route("/api/v1/meta", handlers.meta, methods=["GET"])
    router.add_api_route("/api/v1/read/{source_id:path}", handlers.read, methods=["GET"])
    app = FastAPI(
        title="Log Cache (CF-compatible simulation)", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.include_router(router)
    return app
