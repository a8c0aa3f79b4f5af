"""Prometheus-compatible query HTTP API over a :class:`~metrics_store.base.Querier`.

``query_router(querier)`` returns a FastAPI router serving ``/api/v1/query``, ``/api/v1/query_range`` (GET
and POST form), ``/api/v1/series``, ``/api/v1/labels`` and ``/api/v1/label/{name}/values`` with Prometheus'
JSON shapes, parameter checks and error format (``{"status":"error","errorType":...,"error":...}``; 400 for
bad parameters, 422 for execution errors and unsupported PromQL, 503 for timeouts). POST bodies
(``application/x-www-form-urlencoded``) are parsed here; body values take precedence over the URL's, like
Go's ``Request.FormValue``. Evaluation runs in the thread pool, never on the event loop.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import orjson
import promql_parser
from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry
from starlette.concurrency import run_in_threadpool

from metrics_store.base import Querier, StoreError
from metrics_store.model import METRIC_NAME, Labels, Matcher, MatchOp
from metrics_store.promql import (
    Engine,
    QueryError,
    QueryParseError,
    QueryValue,
    Scalar,
    String,
    Vector,
    parse_selector,
)

__all__ = ["format_value", "parse_duration_param", "parse_time_param", "query_router"]

MAX_POINTS_PER_SERIES = 11_000
# Prometheus' defaults for an absent start/end (web/api/v1: minTime, maxTime), in ms.
MIN_TIME_MS = (-(2**63) // 1000 + 62135596801) * 1000
MAX_TIME_MS = ((2**63 - 1) // 1000 - 62135596801) * 1000 + 999
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ALL_SERIES = [Matcher(METRIC_NAME, MatchOp.RE, ".+")]


class _ApiError(Exception):
    def __init__(self, error_type: str, status: int, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status = status


def _bad_param(name: str, message: str) -> _ApiError:
    return _ApiError("bad_data", 400, f'invalid parameter "{name}": {message}')


def format_value(value: float) -> str:
    """A float as Prometheus spells it (Go ``strconv.FormatFloat(v, 'f', -1, 64)``; NaN, +Inf, -Inf)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text


def _ts(ms: int) -> float | int:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def parse_time_param(text: str) -> int:
    """Unix seconds (float) or RFC 3339 to Unix ms, with Prometheus' millisecond rounding."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f'cannot parse "{text}" to a valid timestamp')
        whole = math.trunc(seconds)
        return whole * 1000 + round((seconds - whole) * 1000)
    try:
        if "T" not in text.upper():
            raise ValueError(text)
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError(text)
    except ValueError:
        raise ValueError(f'cannot parse "{text}" to a valid timestamp') from None
    return round(moment.timestamp() * 1000)


def parse_duration_param(text: str) -> int:
    """Float seconds or a Prometheus duration (``1m30s``) to ms."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        ns = seconds * 1e9
        if not math.isfinite(ns) or ns > 2**63 - 1 or ns < -(2**63):
            raise ValueError(f'cannot parse "{text}" to a valid duration. It overflows int64')
        return int(ns) // 1_000_000
    try:
        delta = promql_parser.parse_duration(text)
    except ValueError:
        raise ValueError(f'cannot parse "{text}" to a valid duration') from None
    return int(delta.total_seconds() * 1000)


class _Form:
    """URL query and urlencoded POST body; body values first (Go's ``r.Form`` order)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._pairs = pairs

    @classmethod
    async def read(cls, request: Request) -> _Form:
        pairs: list[tuple[str, str]] = []
        if request.method == "POST":
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype == "application/x-www-form-urlencoded":
                body = (await request.body()).decode("utf-8", errors="replace")
                pairs.extend(parse_qsl(body, keep_blank_values=True))
        pairs.extend(request.query_params.multi_items())
        return cls(pairs)

    def get(self, name: str) -> str:
        for k, v in self._pairs:
            if k == name:
                return v
        return ""

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self._pairs if k == name]

    def time(self, name: str, default: int) -> int:
        text = self.get(name)
        if text == "":
            return default
        try:
            return parse_time_param(text)
        except ValueError as exc:
            raise _bad_param(name, str(exc)) from exc

    def timeout_s(self) -> float | None:
        text = self.get("timeout")
        if text == "":
            return None
        try:
            return parse_duration_param(text) / 1000
        except ValueError as exc:
            raise _bad_param("timeout", str(exc)) from exc


def _labels_json(labels: Labels) -> dict[str, str]:
    return dict(labels)


def _result_json(value: QueryValue) -> dict[str, Any]:
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
    return {
        "resultType": "matrix",
        "result": [
            {
                "metric": _labels_json(s.labels),
                "values": [[_ts(t), format_value(v)] for t, v in zip(s.timestamps_ms, s.values, strict=True)],
            }
            for s in value.series
        ],
    }


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _error(exc: _ApiError) -> Response:
    return _json({"status": "error", "errorType": exc.error_type, "error": str(exc)}, exc.status)


def _translate(exc: QueryError) -> _ApiError:
    if isinstance(exc, QueryParseError):
        return _bad_param("query", str(exc))
    return _ApiError(exc.error_type, exc.http_status, str(exc))


def _matchers(form: _Form, required: bool) -> list[list[Matcher]]:
    texts = form.getlist("match[]")
    if not texts:
        if required:
            raise _ApiError("bad_data", 400, "no match[] parameter provided")
        return [_ALL_SERIES]
    out = []
    for text in texts:
        try:
            out.append(parse_selector(text))
        except QueryError as exc:
            raise _bad_param("match[]", str(exc)) from exc
    return out


def _series_union(querier: Querier, selectors: list[list[Matcher]], start: int, end: int) -> list[Labels]:
    found: set[Labels] = set()
    try:
        for matchers in selectors:
            found.update(querier.series(matchers, start, end))
    except StoreError as exc:
        raise _ApiError("internal", 500, f"storage error: {exc}") from exc
    return sorted(found)


def query_router(
    querier: Querier,
    *,
    lookback_delta_s: float = 300,
    timeout_s: float = 120,
    max_samples: int = 50_000_000,
    clock: Callable[[], float] = time.time,
    registry: CollectorRegistry = REGISTRY,
) -> APIRouter:
    """Routes of Prometheus' query API; ``clock`` gives "now" for an absent ``time``."""
    engine = Engine(
        querier,
        lookback_delta_s=lookback_delta_s,
        timeout_s=timeout_s,
        max_samples=max_samples,
        registry=registry,
    )
    router = APIRouter()

    async def _run(fn: Callable[[], QueryValue]) -> Response:
        try:
            value = await run_in_threadpool(fn)
        except QueryError as exc:
            return _error(_translate(exc))
        return _json({"status": "success", "data": _result_json(value)})

    @router.api_route("/api/v1/query", methods=["GET", "POST"])
    async def query(request: Request) -> Response:
        try:
            form = await _Form.read(request)
            at = form.time("time", round(clock() * 1000))
            timeout = form.timeout_s()
        except _ApiError as exc:
            return _error(exc)
        text = form.get("query")
        return await _run(lambda: engine.instant_query(text, at, timeout_s=timeout))

    @router.api_route("/api/v1/query_range", methods=["GET", "POST"])
    async def query_range(request: Request) -> Response:
        try:
            form = await _Form.read(request)
            start, end = _required_time(form, "start"), _required_time(form, "end")
            if end < start:
                raise _ApiError("bad_data", 400, "end timestamp must not be before start time")
            try:
                step = parse_duration_param(form.get("step"))
            except ValueError as exc:
                raise _bad_param("step", str(exc)) from exc
            if step <= 0:
                raise _ApiError(
                    "bad_data",
                    400,
                    "zero or negative query resolution step widths are not accepted. Try a positive integer",
                )
            if (end - start) // step > MAX_POINTS_PER_SERIES:  # integer Duration division, as Go
                raise _ApiError(
                    "bad_data",
                    400,
                    "exceeded maximum resolution of 11,000 points per timeseries. "
                    "Try decreasing the query resolution (?step=XX)",
                )
            timeout = form.timeout_s()
        except _ApiError as exc:
            return _error(exc)
        text = form.get("query")
        return await _run(lambda: engine.range_query(text, start, end, step, timeout_s=timeout))

    @router.api_route("/api/v1/series", methods=["GET", "POST"])
    async def series(request: Request) -> Response:
        try:
            form = await _Form.read(request)
            start, end = form.time("start", MIN_TIME_MS), form.time("end", MAX_TIME_MS)
            selectors = _matchers(form, required=True)
            found = await run_in_threadpool(_series_union, querier, selectors, start, end)
        except _ApiError as exc:
            return _error(exc)
        return _json({"status": "success", "data": [_labels_json(ls) for ls in found]})

    @router.api_route("/api/v1/labels", methods=["GET", "POST"])
    async def labels(request: Request) -> Response:
        try:
            form = await _Form.read(request)
            start, end = form.time("start", MIN_TIME_MS), form.time("end", MAX_TIME_MS)
            selectors = _matchers(form, required=False)
            found = await run_in_threadpool(_series_union, querier, selectors, start, end)
        except _ApiError as exc:
            return _error(exc)
        names = sorted({name for ls in found for name, _ in ls})
        return _json({"status": "success", "data": names})

    @router.get("/api/v1/label/{name}/values")
    async def label_values(name: str, request: Request) -> Response:
        try:
            if not _LABEL_NAME.match(name):
                raise _ApiError("bad_data", 400, f'invalid label name: "{name}"')
            form = await _Form.read(request)
            start, end = form.time("start", MIN_TIME_MS), form.time("end", MAX_TIME_MS)
            selectors = _matchers(form, required=False)
            found = await run_in_threadpool(_series_union, querier, selectors, start, end)
        except _ApiError as exc:
            return _error(exc)
        values = sorted({v for ls in found for k, v in ls if k == name})
        return _json({"status": "success", "data": values})

    return router


def _required_time(form: _Form, name: str) -> int:
    if form.get(name) == "":
        raise _bad_param(name, 'cannot parse "" to a valid timestamp')
    return form.time(name, 0)
