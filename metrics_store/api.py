"""Prometheus-compatible query HTTP API over a :class:`~metrics_store.base.Querier`.

``query_router(querier)`` returns a FastAPI router serving ``/api/v1/query``, ``/api/v1/query_range`` (GET
and POST form), ``/api/v1/series``, ``/api/v1/labels`` and ``/api/v1/label/{name}/values`` with Prometheus'
JSON shapes, parameter checks and error format (``{"status":"error","errorType":...,"error":...}``; 400 for
bad parameters and queries refused by a limit, 422 for execution errors and unsupported PromQL, 503 for
timeouts). POST bodies
(``application/x-www-form-urlencoded``) are parsed here; body values take precedence over the URL's, like
Go's ``Request.FormValue``. Evaluation runs in worker threads, never on the event loop, at most
``limits.max_concurrency`` queries at once (Prometheus' ``query.max-concurrency``) and never in the
threads Starlette's other sync routes need. The ``match[]`` selectors of the series and label routes are
parsed, compiled and looked up in the same worker threads, at most ``limits.max_match_selectors`` of them
per request (more is a 400 ``bad_data``; Prometheus has no such limit).

Tenancy: every handler reads through the request's scope (:func:`platforms.tenancy.scope_of`). A tenant
scope's queries run on the same engine over a :class:`~metrics_store.scoped.ScopedQuerier`, which adds the
scope's ``org``/``space`` equality matchers to every selector the query evaluates and to every ``match[]``
(so no PromQL construct can reach another tenant's or the foundation's series); its requests count against
the scope's share of the limits (:mod:`metrics_store.tenant_limits`, 429 when used up).

``status_router(info)`` (buildinfo, runtimeinfo, config, flags, format_query, query_exemplars, rules, alerts)
completes what Grafana's Prometheus datasource calls; see :mod:`metrics_store._api_status`.
"""

from __future__ import annotations

import contextlib
import gc
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry

from metrics_store._api_status import ServerInfo, status_router
from metrics_store._buffer_response import BufferResponse
from metrics_store._matrix_json import matrix_body
from metrics_store._query_string import FormRoute
from metrics_store.api_common import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    ApiError,
    Form,
    bad_param,
    error_response,
    format_value,
    format_values,
    json_response,
    parse_duration_param,
    parse_time_param,
    success,
)
from metrics_store.base import Querier, StoreError
from metrics_store.config import DEFAULT_QUERY_LIMITS, QueryLimits
from metrics_store.model import METRIC_NAME, Labels, Matcher, MatchOp
from metrics_store.names import unescape_name
from metrics_store.promql import (
    Engine,
    Matrix,
    QueryError,
    QueryParseError,
    QueryValue,
    SampleBudget,
    Scalar,
    String,
    Vector,
    parse_selector,
)
from metrics_store.promql.arrays import ArrayMatrix
from metrics_store.promql.semantics import PROMETHEUS_3, Semantics
from metrics_store.scoped import scoped
from metrics_store.tenant_limits import TenantLimits
from platforms.tenancy import Scope, scope_of

__all__ = [
    "ApiError",
    "Form",
    "QueryHandlers",
    "ServerInfo",
    "error_response",
    "format_value",
    "parse_duration_param",
    "parse_time_param",
    "query_router",
    "result_json",
    "status_router",
    "success",
]

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ALL_SERIES = [Matcher(METRIC_NAME, MatchOp.RE, ".+")]


def _ts(ms: int) -> float | int:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def _labels_json(labels: Labels) -> dict[str, str]:
    return dict(labels)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while millions of short-lived lists are built (it halves render time); never
    leaves it off: only the caller that turned it off turns it back on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _render(value: QueryValue | ArrayMatrix) -> bytes | memoryview:
    with _gc_paused():
        if isinstance(value, Matrix | ArrayMatrix):
            return memoryview(matrix_body(value))  # served as it is (a Response takes bytes or a memoryview)
        return orjson.dumps({"status": "success", "data": result_json(value)})


def _evaluated_body(fn: Callable[[Engine], QueryValue | ArrayMatrix], engine: Engine) -> bytes | memoryview:
    """``fn(engine)`` rendered as the API's JSON body (in a worker thread: both steps in one call)."""
    return _render(fn(engine))


def result_json(value: QueryValue) -> dict[str, Any]:
    if isinstance(value, Scalar):
        return {"resultType": "scalar", "result": [_ts(value.timestamp_ms), format_value(value.value)]}
    if isinstance(value, String):
        return {"resultType": "string", "result": [_ts(value.timestamp_ms), value.value]}
    if isinstance(value, Vector):
        return {
            "resultType": "vector",
            "result": [
                {"metric": _labels_json(s.labels), "value": [_ts(s.timestamp_ms), format_value(s.value)]}
                for s in value.samples
            ],
        }
    # Range results share the step grid: format each distinct timestamp once; values in bulk.
    stamps: dict[int, float | int] = {}
    result = []
    for s in value.series:
        times = [stamps[t] if t in stamps else stamps.setdefault(t, _ts(t)) for t in s.timestamps_ms]
        pairs = zip(times, format_values(s.values), strict=True)
        result.append({"metric": _labels_json(s.labels), "values": list(map(list, pairs))})
    return {
        "resultType": "matrix",
        "result": result,
    }


def _translate(exc: QueryError) -> ApiError:
    if isinstance(exc, QueryParseError):
        return bad_param("query", str(exc))
    return ApiError(exc.error_type, exc.http_status, str(exc))


def _matchers(form: Form, required: bool, limit: int, semantics: Semantics) -> list[list[Matcher]]:
    """The selectors of ``match[]``, parsed and compiled (CPU-bound: run it off the event loop); more than
    ``limit`` of them are refused before any is parsed."""
    texts = form.getlist("match[]")
    if not texts:
        if required:
            raise ApiError("bad_data", 400, "no match[] parameter provided")
        return [_ALL_SERIES]
    if len(texts) > limit:
        raise bad_param("match[]", f"{len(texts)} selectors given, the limit is {limit}")
    out = []
    for text in texts:
        try:
            out.append(parse_selector(text, semantics))
        except QueryError as exc:
            raise bad_param("match[]", str(exc)) from exc
    return out


def _series_union(querier: Querier, selectors: list[list[Matcher]], start: int, end: int) -> list[Labels]:
    found: set[Labels] = set()
    try:
        for matchers in selectors:
            found.update(querier.series(matchers, start, end))
    except StoreError as exc:
        raise ApiError("internal", 500, f"storage error: {exc}") from exc
    return sorted(found)


class QueryHandlers:
    """The route handlers of :func:`query_router`: one engine over ``querier`` with the limits ``limits``,
    and one limiter of the threads evaluation and rendering run in. Each public method is one route (the
    factory only wires paths to them), so a test can call it directly."""

    def __init__(
        self,
        querier: Querier,
        *,
        limits: QueryLimits = DEFAULT_QUERY_LIMITS,
        clock: Callable[[], float] = time.time,
        registry: CollectorRegistry = REGISTRY,
        semantics: Semantics = PROMETHEUS_3,
    ) -> None:
        self.querier = querier
        self.limits = limits
        self.clock = clock
        # One pool for every query of this API: max_samples bounds one query, this bounds them all together.
        budget = SampleBudget(limits.max_inflight_samples)
        self.engine = Engine.from_limits(
            querier, limits, registry=registry, budget=budget, semantics=semantics
        )
        self.tenants = TenantLimits(limits, budget, registry=registry)
        # Evaluation and rendering run in threads of their own, at most max_concurrency at once: a burst of
        # slow queries waits here instead of taking every thread of Starlette's pool (where /-/healthy and
        # the other sync routes run).
        self.evaluators = CapacityLimiter(limits.max_concurrency)

    def engine_for(self, scope: Scope, budget: SampleBudget | None = None) -> Engine:
        """The engine a principal of ``scope`` queries with: this API's for the foundation, else the same
        engine over the scope's :class:`~metrics_store.scoped.ScopedQuerier` (and its tenant ``budget``)."""
        if scope.is_foundation:
            return self.engine
        return self.engine.with_querier(scoped(self.querier, scope), budget=budget)

    async def _run(self, scope: Scope, fn: Callable[[Engine], QueryValue | ArrayMatrix]) -> Response:
        try:
            with self.tenants.admit(scope) as budget:
                engine = self.engine_for(scope, budget)
                # Evaluation and rendering (big matrices take a while) in one worker-thread call: each hop
                # costs the event loop a limiter checkpoint, a wake-up and two GIL hand-offs, and under load
                # every one of those lets other ready callbacks and threads go first.
                body = await to_thread.run_sync(_evaluated_body, fn, engine, limiter=self.evaluators)
        except ApiError as exc:
            return error_response(exc)
        except QueryError as exc:
            return error_response(_translate(exc))
        return BufferResponse(body, media_type="application/json")

    async def query(self, request: Request) -> Response:
        try:
            form = await Form.read(request)
            at = form.time("time", round(self.clock() * 1000))
            timeout = form.timeout_s()
        except ApiError as exc:
            return error_response(exc)
        text = form.get("query")
        return await self._run(
            scope_of(request), lambda engine: engine.instant_query(text, at, timeout_s=timeout)
        )

    async def query_range(self, request: Request) -> Response:
        try:
            form = await Form.read(request)
            start, end = _required_time(form, "start"), _required_time(form, "end")
            if end < start:
                raise ApiError("bad_data", 400, "end timestamp must not be before start time")
            try:
                step = parse_duration_param(form.get("step"))
            except ValueError as exc:
                raise bad_param("step", str(exc)) from exc
            if step <= 0:
                raise ApiError(
                    "bad_data",
                    400,
                    "zero or negative query resolution step widths are not accepted. Try a positive integer",
                )
            timeout = form.timeout_s()
        except ApiError as exc:
            return error_response(exc)
        text = form.get("query")
        return await self._run(
            scope_of(request),
            lambda engine: engine.range_query_arrays(text, start, end, step, timeout_s=timeout),
        )

    async def _matching_series(self, request: Request, *, required: bool) -> list[Labels]:
        """Series selected by the request's ``match[]`` (required or optional), ``start`` and ``end``."""
        form = await Form.read(request)
        start, end = form.time("start", MIN_TIME_MS), form.time("end", MAX_TIME_MS)
        scope = scope_of(request)
        with self.tenants.admit(scope):
            querier = scoped(self.querier, scope)
            return await to_thread.run_sync(
                self._select, querier, form, required, start, end, limiter=self.evaluators
            )

    def _select(self, querier: Querier, form: Form, required: bool, start: int, end: int) -> list[Labels]:
        selectors = _matchers(form, required, self.limits.max_match_selectors, self.engine.semantics)
        return _series_union(querier, selectors, start, end)

    async def series(self, request: Request) -> Response:
        try:
            found = await self._matching_series(request, required=True)
        except ApiError as exc:
            return error_response(exc)
        return json_response({"status": "success", "data": [_labels_json(ls) for ls in found]})

    async def labels(self, request: Request) -> Response:
        try:
            found = await self._matching_series(request, required=False)
        except ApiError as exc:
            return error_response(exc)
        names = sorted({name for ls in found for name, _ in ls})
        return json_response({"status": "success", "data": names})

    async def label_values(self, name: str, request: Request) -> Response:
        try:
            if self.engine.semantics.utf8_names:
                # Prometheus 3: any UTF-8 name, a non-legacy one written U__-escaped in the path
                name = unescape_name(name)
                if not name:
                    raise ApiError("bad_data", 400, f'invalid label name: "{name}"')
            elif not _LABEL_NAME.match(name):
                raise ApiError("bad_data", 400, f'invalid label name: "{name}"')
            found = await self._matching_series(request, required=False)
        except ApiError as exc:
            return error_response(exc)
        values = sorted({v for ls in found for k, v in ls if k == name})
        return json_response({"status": "success", "data": values})


def query_router(
    querier: Querier,
    *,
    limits: QueryLimits = DEFAULT_QUERY_LIMITS,
    clock: Callable[[], float] = time.time,
    registry: CollectorRegistry = REGISTRY,
    semantics: Semantics = PROMETHEUS_3,
) -> APIRouter:
    """Routes of Prometheus' query API with the engine limits ``limits`` (section ``metrics_store.query``;
    the points-per-series limit of ``query_range`` is the engine's) and the PromQL of ``semantics``
    (section ``promql``); ``clock`` gives "now" for an absent ``time``."""
    h = QueryHandlers(querier, limits=limits, clock=clock, registry=registry, semantics=semantics)
    router = APIRouter(route_class=FormRoute)  # a 64 KiB query's URL decoded off the event loop
    router.add_api_route("/api/v1/query", h.query, methods=["GET", "POST"])
    router.add_api_route("/api/v1/query_range", h.query_range, methods=["GET", "POST"])
    router.add_api_route("/api/v1/series", h.series, methods=["GET", "POST"])
    router.add_api_route("/api/v1/labels", h.labels, methods=["GET", "POST"])
    router.add_api_route("/api/v1/label/{name}/values", h.label_values, methods=["GET"])
    return router


def _required_time(form: Form, name: str) -> int:
    if form.get(name) == "":
        raise bad_param(name, 'cannot parse "" to a valid timestamp')
    return form.time(name, 0)
