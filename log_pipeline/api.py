"""Log search HTTP API: ``logs_router(store, patterns=None, tail=None)`` returns a FastAPI router serving

* ``GET /api/v1/logs/search``    q, start, end (RFC 3339 or Unix seconds), limit, cursor — newest first;
  ``highlight=true`` adds ``highlight: {message: [[start, end], ...], fields: [name, ...]}`` to each hit
  (code-point spans of the matched message tokens, names of the matched labels/fields; at most
  ``max_highlight_spans`` spans, ``"truncated": true`` in the hit's highlight past it). ``data.truncated``
  is true when the hits reached ``max_response_bytes``: the hits past it are left out and ``next_cursor``
  continues after the last hit sent (one hit is always sent)
* ``GET /api/v1/logs/histogram`` q, start, end, step (seconds or ``30s``/``5m``/``1h``) — counts per bucket
* ``GET /api/v1/logs/context``   id, before, after (each at most ``max_context_lines``) — records from the
  same source around a hit, the nearest first while they fit in ``max_response_bytes`` (``data.truncated``
  when some were left out)
* ``GET /api/v1/logs/tail``      q, highlight — Server-Sent Events (``event: log``; ``event: dropped`` for
  slow clients; ``event: warning`` once when highlighting uses only some clauses); refused with 400 for a
  query over ``logs.tail.max_query_bytes``, 429 (``too_many_requests``) when the principal (for anonymous
  readers: the client address) has ``max_subscribers_per_principal`` tails open, 503 when
  ``max_subscribers`` are open in all (both with ``Retry-After``)
* ``GET /api/v1/logs/patterns``  app, limit — from any object with ``list_patterns(app, limit, scope=)``

Tenancy: every route reads with the principal's scope (:func:`platforms.tenancy.scope_of`), passed down to
the store (search, histogram, context: the filter is part of the store query, see
:mod:`log_pipeline.search.tenancy`), the pattern source and the tail hub. The context of a record the scope
does not see answers 404, as an unknown id. A tenant scope has at most ``max_searches_per_tenant`` reads
running or waiting and ``max_tails_per_tenant`` live tails: beyond them 429 naming the limit.

Responses use Prometheus' envelope (``{"status": "success", "data": ...}``; errors ``{"status": "error",
"errorType": ..., "error": ...}`` with 400 for bad parameters or queries, 404 for an unknown id, 503 when the
store fails). Prometheus' ``warnings`` list says when highlighting used only the first
``max_highlight_clauses`` distinct clauses of the query, or when hits were left out. Store calls,
highlighting and the encoding of hits run in the thread pool, never on the event loop (the limits are
``logs.search_api``, :class:`~log_pipeline.config.SearchApiConfig`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

import anyio
import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from prometheus_client import CollectorRegistry
from starlette.background import BackgroundTask

from log_pipeline.config import SearchApiConfig
from log_pipeline.model import LogRecord
from log_pipeline.search._common import rfc3339_ns
from log_pipeline.search.base import (
    BadCursorError,
    InvalidArgumentError,
    RecordNotFoundError,
    SearchBusyError,
    SearchError,
    SearchStore,
    SearchTimeoutError,
)
from log_pipeline.search.executor import SearchExecutor, ThreadSearchExecutor
from log_pipeline.search.query import QuerySyntaxError
from log_pipeline.search.render import SEARCH_CHUNK_HITS, Body, hit_json
from log_pipeline.search.render import Marker as _Marker
from log_pipeline.search.tail import Subscription, TailHub, TailRefusedError
from log_pipeline.search.tenant_limits import TenantLimitError, TenantSearchLimiter
from metrics_store.background import BackgroundPool
from platforms.tenancy import FOUNDATION, Scope, scope_of

__all__ = [
    "SEARCH_CHUNK_HITS",
    "LogsHandlers",
    "PatternSource",
    "TailTiming",
    "logs_router",
    "parse_time",
]

NS = 1_000_000_000
MAX_LIMIT = 10_000
TAIL_RETRY_AFTER_S = 5
BUSY_RETRY_AFTER_S = 1
TAIL_BATCH_RECORDS = 64  # records rendered (highlighted, encoded) per thread-pool call of a live tail
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_UNITS = {"ms": 10**6, "s": NS, "m": 60 * NS, "h": 3600 * NS, "d": 86400 * NS, None: NS}
T = TypeVar("T")


class PatternSource(Protocol):
    def list_patterns(self, app: str | None, limit: int, *, scope: Scope = FOUNDATION) -> Sequence[Any]:
        """Patterns (dataclasses or dicts) of the orgs/spaces ``scope`` sees, most frequent first."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class TailTiming:
    """How often a live tail polls its queue, and how long an idle stream waits before a keepalive."""

    poll_s: float = 0.05
    keepalive_s: float = 15.0


class _BadRequestError(Exception):
    def __init__(self, error_type: str, status: int, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status = status


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _error(error_type: str, status: int, message: str) -> Response:
    return _json({"status": "error", "errorType": error_type, "error": message}, status)


def parse_time(name: str, text: str) -> int:
    """RFC 3339 or Unix seconds (fractions allowed) -> Unix nanoseconds."""
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            whole, _, frac = text.partition(".")
            return int(whole) * NS + (int((frac + "000000000")[:9]) if frac else 0) * (
                -1 if text[0] == "-" else 1
            )
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise _BadRequestError(
            "bad_data", 400, f'invalid parameter "{name}": cannot parse {text!r} as a time'
        ) from exc
    if dt.tzinfo is None:
        raise _BadRequestError(
            "bad_data", 400, f'invalid parameter "{name}": {text!r} needs a UTC offset or Z'
        )
    frac_ns = 0
    m = re.search(r"\.(\d+)", text)
    if m:  # datetime keeps microseconds only; keep nanoseconds from the text
        frac_ns = int((m.group(1) + "000000000")[:9])
        dt = dt.replace(microsecond=0)
    return int(dt.timestamp()) * NS + frac_ns


def _duration(name: str, text: str) -> int:
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise _BadRequestError(
            "bad_data", 400, f'invalid parameter "{name}": {text!r} is not a positive duration'
        )
    return round(float(m.group(1)) * _UNITS[m.group(2)])


def _int(name: str, text: str | None, default: int, lo: int, hi: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise _BadRequestError(
            "bad_data", 400, f'invalid parameter "{name}": {text!r} is not an integer'
        ) from exc
    if not lo <= value <= hi:
        raise _BadRequestError("bad_data", 400, f'invalid parameter "{name}": must be between {lo} and {hi}')
    return value


def _opt_time(request: Request, name: str) -> int | None:
    text = request.query_params.get(name)
    return None if not text else parse_time(name, text)


def _takes_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "")  # as GZipMiddleware decides


def _body_response(body: Body) -> Response:
    """A JSON body as built (and maybe compressed) by the search executor; GZipMiddleware leaves an encoded
    body alone."""
    response = Response(body.content, media_type="application/json")
    if body.encoding is not None:
        response.headers["Content-Encoding"] = body.encoding
        response.headers["Vary"] = "Accept-Encoding"
    return response


def _wants_highlight(request: Request) -> bool:
    return request.query_params.get("highlight", "").lower() in ("1", "true", "yes")


def _principal_name(request: Request) -> str | None:
    """The authenticated principal's name (set by the auth middleware), None for anonymous requests."""
    name = getattr(getattr(request.state, "principal", None), "name", None)
    return name if isinstance(name, str) else None


def _client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _tail_refused(exc: TailRefusedError) -> Response:
    if exc.reason == "query_bytes":
        return _error("bad_data", 400, f'invalid parameter "q": {exc}')
    status, error_type = (
        (429, "too_many_requests")
        if exc.reason in ("principal_subscribers", "tenant_subscribers")
        else (503, "unavailable")
    )
    response = _error(error_type, status, f"live tail refused: {exc}")
    response.headers["Retry-After"] = str(TAIL_RETRY_AFTER_S)
    return response


def _pattern_json(p: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(p) and not isinstance(p, type):
        item: dict[str, Any] = dataclasses.asdict(p)
    else:
        item = dict(p)
    for key in [k for k in item if k.endswith("_ns") and isinstance(item[k], int)]:
        item[key[:-3]] = rfc3339_ns(item[key])
    return item


async def _guarded(make: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await make()
    except _BadRequestError as exc:
        return _error(exc.error_type, exc.status, str(exc))
    except QuerySyntaxError as exc:
        return _error("bad_data", 400, f'invalid parameter "q": {exc}')
    except BadCursorError as exc:
        return _error("bad_data", 400, f'invalid parameter "cursor": {exc}')
    except RecordNotFoundError as exc:
        return _error("not_found", 404, str(exc))
    except InvalidArgumentError as exc:
        return _error("bad_data", 400, str(exc))
    except SearchBusyError as exc:
        response = _error("unavailable", 503, str(exc))
        response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_S)
        return response
    except SearchTimeoutError as exc:
        return _error("timeout", 503, str(exc))
    except TenantLimitError as exc:
        response = _error("too_many_requests", 429, str(exc))
        response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_S)
        return response
    except SearchError as exc:
        return _error("unavailable", 503, str(exc))


class LogsHandlers:
    """The route handlers of :func:`logs_router` over one store, pattern source and tail hub; each public
    method is one route (the factory only wires paths to them), so a test can call it directly.

    ``limits``: ``logs.search_api`` (defaults of :class:`~log_pipeline.config.SearchApiConfig`);
    ``tenant_limits``: the per-tenant admission (default: one of ``limits.max_searches_per_tenant`` with
    its metrics in a registry of its own)."""

    def __init__(
        self,
        store: SearchStore,
        patterns: PatternSource | None = None,
        tail: TailHub | None = None,
        *,
        clock: Callable[[], int] = time.time_ns,
        tail_timing: TailTiming = TailTiming(),
        limits: SearchApiConfig | None = None,
        executor: SearchExecutor | None = None,
        tenant_limits: TenantSearchLimiter | None = None,
    ) -> None:
        self.store = store
        self.patterns = patterns
        self.tail = tail
        self.clock = clock
        self.tail_poll_s = tail_timing.poll_s
        self.keepalive_s = tail_timing.keepalive_s
        self.limits = limits if limits is not None else SearchApiConfig()
        self.tenant_limits = tenant_limits or TenantSearchLimiter(
            self.limits.tenant_search_share, CollectorRegistry()
        )
        # searches build tantivy queries (a wildcard's automaton holds the GIL for ms) and highlight in
        # Python: a few background threads at a lower CPU priority, so a burst does not slow the query API
        self._workers = BackgroundPool("log-search", self.limits.max_concurrent_searches)
        # with a worker pool (log_pipeline.search.workers) they run in other processes: no GIL shared at all
        self.executor = executor if executor is not None else ThreadSearchExecutor(store, self._workers)
        # live tails render (highlight, encode) in threads of their own: a busy tail never takes the threads
        # that searches and the sync routes answer from (created on first use: it needs the running loop)
        self._tail_threads: anyio.CapacityLimiter | None = None

    async def search(self, request: Request) -> Response:
        async def run() -> Response:
            qp = request.query_params
            start, end = _opt_time(request, "start"), _opt_time(request, "end")
            limit = _int("limit", qp.get("limit"), 100, 1, MAX_LIMIT)
            args = (qp.get("q", ""), start, end, limit, qp.get("cursor") or None)
            highlight, gzip_ok, scope = _wants_highlight(request), _takes_gzip(request), scope_of(request)
            with self.tenant_limits.admit(scope):
                body = await self.executor.search_body(
                    args, highlight, self.limits, gzip_ok=gzip_ok, scope=scope
                )
            return _body_response(body)

        return await _guarded(run)

    async def histogram(self, request: Request) -> Response:
        async def run() -> Response:
            qp = request.query_params
            end = _opt_time(request, "end") or self.clock()
            start = _opt_time(request, "start") or end - 3600 * NS
            if end < start:
                raise _BadRequestError("bad_data", 400, 'invalid parameter "end": end is before start')
            step_text = qp.get("step")
            step = _duration("step", step_text) if step_text else max((end - start) // 60, 10**6)
            step = max(step // 10**6, 1) * 10**6  # whole milliseconds
            q, scope = qp.get("q", ""), scope_of(request)
            with self.tenant_limits.admit(scope):
                buckets = await self.executor.histogram(q, start, end, step, scope=scope)
            data = {
                "step_s": step / NS,
                "buckets": [{"timestamp": rfc3339_ns(b.start_ns), "count": b.count} for b in buckets],
                "total": sum(b.count for b in buckets),
            }
            return _json({"status": "success", "data": data})

        return await _guarded(run)

    async def context(self, request: Request) -> Response:
        async def run() -> Response:
            qp = request.query_params
            record_id = qp.get("id")
            if not record_id:
                raise _BadRequestError("bad_data", 400, 'invalid parameter "id": required')
            most = self.limits.max_context_lines
            before = _int("before", qp.get("before"), min(10, most), 0, most)
            after = _int("after", qp.get("after"), min(10, most), 0, most)

            scope = scope_of(request)
            with self.tenant_limits.admit(scope):
                ctx_body = await self.executor.context_body(
                    record_id, before, after, self.limits, gzip_ok=_takes_gzip(request), scope=scope
                )
            return _body_response(ctx_body)

        return await _guarded(run)

    async def list_patterns(self, request: Request) -> Response:
        async def run() -> Response:
            patterns = self.patterns
            if patterns is None:
                raise _BadRequestError("unavailable", 503, "pattern mining is not enabled")
            app = request.query_params.get("app") or None
            limit = _int("limit", request.query_params.get("limit"), 100, 1, MAX_LIMIT)
            scope = scope_of(request)
            with self.tenant_limits.admit(scope):
                items = await self._workers.run(lambda: list(patterns.list_patterns(app, limit, scope=scope)))
            return _json({"status": "success", "data": {"patterns": [_pattern_json(p) for p in items]}})

        return await _guarded(run)

    async def live_tail(self, request: Request) -> Response:
        tail = self.tail
        if tail is None:
            return _error("unavailable", 503, "live tail is not enabled")
        if tail.closing.is_set():
            return _error("unavailable", 503, "the server is shutting down")
        try:
            sub = tail.subscribe(
                request.query_params.get("q", ""),
                _principal_name(request),
                address=_client_address(request),
                scope=scope_of(request),
            )
        except TailRefusedError as exc:
            return _tail_refused(exc)
        except QuerySyntaxError as exc:
            return _error("bad_data", 400, f'invalid parameter "q": {exc}')
        mark = _Marker(sub.node, self.limits) if _wants_highlight(request) else None
        if self._tail_threads is None:
            self._tail_threads = anyio.CapacityLimiter(4)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        # the background task frees the slot even when the client leaves before the stream is iterated
        return StreamingResponse(
            self._tail_events(tail, sub, mark, self._tail_threads),
            media_type="text/event-stream",
            headers=headers,
            background=BackgroundTask(tail.unsubscribe, sub),
        )

    async def _tail_events(
        self,
        tail: TailHub,
        sub: Subscription,
        mark: _Marker | None,
        limiter: anyio.CapacityLimiter,
    ) -> AsyncIterator[bytes]:
        """The Server-Sent Events of one live tail, until the client leaves."""

        def render(records: list[LogRecord]) -> bytes:
            return b"".join(
                b"event: log\ndata: "
                + orjson.dumps(mark(hit_json(r)) if mark is not None else hit_json(r))
                + b"\n\n"
                for r in records
            )

        reported, idle = 0, 0.0
        try:
            yield b": connected\n\n"
            if mark is not None and mark.warning is not None:
                yield b"event: warning\ndata: " + orjson.dumps({"warning": mark.warning}) + b"\n\n"
            # no request.is_disconnected() per poll (~0.1 ms of the event loop each: anyio formats the task's
            # repr into the cancel reason): the StreamingResponse's own disconnect listener cancels this
            # generator when the client leaves, and a send to a gone client raises at the next event
            while not tail.closing.is_set():
                batch: list[LogRecord] = []
                while len(batch) < TAIL_BATCH_RECORDS and (record := sub.get(0)) is not None:
                    batch.append(record)
                if batch:
                    idle = 0.0
                    yield await anyio.to_thread.run_sync(render, batch, limiter=limiter)
                    continue
                if sub.dropped != reported:
                    reported = sub.dropped
                    yield b"event: dropped\ndata: " + orjson.dumps({"dropped": reported}) + b"\n\n"
                await asyncio.sleep(self.tail_poll_s)
                idle += self.tail_poll_s
                if idle >= self.keepalive_s:
                    idle = 0.0
                    yield b": keepalive\n\n"
            if tail.closing.is_set():
                yield b"event: shutdown\ndata: {}\n\n"
        finally:
            tail.unsubscribe(sub)


def logs_router(
    store: SearchStore,
    patterns: PatternSource | None = None,
    tail: TailHub | None = None,
    *,
    clock: Callable[[], int] = time.time_ns,
    tail_timing: TailTiming = TailTiming(),
    limits: SearchApiConfig | None = None,
    executor: SearchExecutor | None = None,
    tenant_limits: TenantSearchLimiter | None = None,
) -> APIRouter:
    """``limits``: ``logs.search_api`` (defaults of :class:`~log_pipeline.config.SearchApiConfig`);
    ``executor``: where searches, histograms and context run (default: threads over ``store``);
    ``tenant_limits``: per-tenant admission of reads (see :class:`LogsHandlers`)."""
    h = LogsHandlers(
        store,
        patterns,
        tail,
        clock=clock,
        tail_timing=tail_timing,
        limits=limits,
        executor=executor,
        tenant_limits=tenant_limits,
    )
    router = APIRouter()
    router.add_api_route("/api/v1/logs/search", h.search, methods=["GET"])
    router.add_api_route("/api/v1/logs/histogram", h.histogram, methods=["GET"])
    router.add_api_route("/api/v1/logs/context", h.context, methods=["GET"])
    router.add_api_route("/api/v1/logs/patterns", h.list_patterns, methods=["GET"])
    router.add_api_route("/api/v1/logs/tail", h.live_tail, methods=["GET"])
    return router
