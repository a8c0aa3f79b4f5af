"""The push receivers' HTTP routes (mounted by the server assembly):

* ``POST /api/v1/write``: Prometheus remote write 1.0 and 2.0 (:mod:`collector.push.remote_write`); 204 when
  stored, with 2.0's ``X-Prometheus-Remote-Write-*-Written`` headers;
* ``POST /api/v1/otlp/v1/metrics``: OTLP/HTTP metrics, protobuf or JSON (:mod:`collector.push.otlp_metrics`),
  as Prometheus 3 serves it; 200 with an ``ExportMetricsServiceResponse`` in the request's encoding, whose
  ``partial_success`` counts the points not stored (delta temporality, exponential histograms);
* ``POST /api/v1/otlp/v1/logs``: OTLP/HTTP logs into the log pipeline's spool (:mod:`log_pipeline.otlp`);
  200 once the lines are durable in the spool; 404 when the server has no log pipeline.

Who may push: the route table (``paramedic.auth``) asks for ``metrics-writer`` (or operator, admin); a scoped
operator may push only series and lines of its own orgs/spaces (else 403, nothing stored). Refusals are
plain-text bodies with the status of :class:`collector.push.errors.PushRefusedError`; a body that does not
decode is a 400 and never an error of the server. Decoding and appending run in worker threads.
With ``collector.push.enabled: false`` every push route answers 404.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from collector.config import PushConfig
from collector.push.errors import PushRefusedError
from collector.push.ingest import PushIngest
from collector.push.otlp_body import parse_request, render_response
from collector.push.otlp_metrics import decode_otlp_metrics
from collector.push.remote_write import Version, decode_remote_write, response_headers, version_of
from log_pipeline.base import Spool
from log_pipeline.otlp import OtlpLine, otlp_lines
from platforms.tenancy import Scope, scope_of

__all__ = ["push_router"]

WRITE_PATH, OTLP_METRICS_PATH, OTLP_LOGS_PATH = (
    "/api/v1/write",
    "/api/v1/otlp/v1/metrics",
    "/api/v1/otlp/v1/logs",
)


def _refusal(exc: PushRefusedError, headers: dict[str, str] | None = None) -> Response:
    out = dict(headers or {})
    if exc.status == 503:
        out["Retry-After"] = "1"
    return Response(str(exc) + "\n", status_code=exc.status, media_type="text/plain", headers=out)


def _check_lines(lines: list[OtlpLine], scope: Scope) -> None:
    if scope.is_foundation:
        return
    for line in lines:
        if not scope.operates_labels(line.labels):
            org = line.labels.get("org", "")
            raise PushRefusedError(
                403,
                "tenancy",
                f"a log line of org={org!r} space={line.labels.get('space', '')!r}: outside this principal's "
                f"scope ({scope.describe()}); nothing was stored",
            )


class _Handlers:
    def __init__(self, ingest: PushIngest, config: Callable[[], PushConfig], spool: Spool | None) -> None:
        self.ingest, self.config, self.spool = ingest, config, spool

    def _enabled(self) -> PushConfig:
        cfg = self.config()
        if not cfg.enabled:
            raise PushRefusedError(404, "disabled", "push receivers are disabled (collector.push.enabled)")
        return cfg

    def _done(self, job: str, code: int, t0: float) -> None:
        self.ingest.push_metrics.requests.labels(job, str(code)).inc()
        self.ingest.push_metrics.seconds.labels(job).observe(time.perf_counter() - t0)

    async def remote_write(self, request: Request) -> Response:
        t0, job = time.perf_counter(), "remote_write"
        version: Version = "1.0"
        try:
            cfg = self._enabled()
            body = await request.body()
            ct, ce = request.headers.get("content-type", ""), request.headers.get("content-encoding", "")
            version = version_of(ct)  # first: a 2.0 refusal still carries 2.0's -Written headers (0)
            version, decoded = await asyncio.to_thread(decode_remote_write, body, ct, ce, cfg)
            await asyncio.to_thread(self.ingest.append, job, decoded, scope_of(request))
        except PushRefusedError as exc:
            self.ingest.refused(job, exc)
            return _refusal(exc, response_headers(version, None))
        self._done(job, 204, t0)
        self.ingest.push_metrics.remote_write_versions.labels(version).inc()
        return Response(status_code=204, headers=response_headers(version, decoded))

    async def otlp_metrics(self, request: Request) -> Response:
        t0, job = time.perf_counter(), "otlp"
        try:
            cfg = self._enabled()
            body = await request.body()
            ct, ce = request.headers.get("content-type", ""), request.headers.get("content-encoding", "")
            req, enc = await asyncio.to_thread(
                parse_request, ExportMetricsServiceRequest, body, ct, ce, cfg.max_decompressed_bytes
            )
            decoded = await asyncio.to_thread(decode_otlp_metrics, req, cfg)
            await asyncio.to_thread(self.ingest.append, job, decoded, scope_of(request))
        except PushRefusedError as exc:
            self.ingest.refused(job, exc)
            return _refusal(exc)
        resp = ExportMetricsServiceResponse()
        if decoded.skipped:
            resp.partial_success.rejected_data_points = sum(decoded.skipped.values())
            resp.partial_success.error_message = "not stored: " + ", ".join(
                f"{n} {reason}" for reason, n in sorted(decoded.skipped.items())
            )
        content, media = render_response(resp, enc)
        self._done(job, 200, t0)
        return Response(content, media_type=media)

    def _spool(self) -> Spool:
        if self.spool is None:
            raise PushRefusedError(404, "no_log_pipeline", "this server has no log pipeline (logs: section)")
        if not self.ingest.running:
            raise PushRefusedError(
                503, "not_running", "the push receiver is not running (starting or stopping)"
            )
        return self.spool

    async def otlp_logs(self, request: Request) -> Response:
        t0, job = time.perf_counter(), "otlp_logs"
        try:
            cfg = self._enabled()
            spool = self._spool()
            body = await request.body()
            ct, ce = request.headers.get("content-type", ""), request.headers.get("content-encoding", "")
            req, enc = await asyncio.to_thread(
                parse_request, ExportLogsServiceRequest, body, ct, ce, cfg.max_decompressed_bytes
            )
            received = time.time_ns()
            lines = otlp_lines(req, received, cfg.max_log_message_bytes)
            if len(lines) > cfg.max_log_records_per_request:
                raise PushRefusedError(
                    413,
                    "log_record_limit",
                    f"{len(lines)} log records (limit {cfg.max_log_records_per_request})",
                )
            _check_lines(lines, scope_of(request))
            peer = f"{request.client.host}:{request.client.port}" if request.client else ""
            if lines:
                await asyncio.to_thread(spool.append, [line.raw(received, peer) for line in lines])
        except PushRefusedError as exc:
            self.ingest.refused(job, exc)
            return _refusal(exc)
        self.ingest.push_metrics.log_records.labels(job).inc(len(lines))
        content, media = render_response(ExportLogsServiceResponse(), enc)
        self._done(job, 200, t0)
        return Response(content, media_type=media)


def push_router(
    ingest: PushIngest, config: Callable[[], PushConfig], spool: Spool | None = None
) -> APIRouter:
    """The push routes over ``ingest``; ``config`` is read per request (a reload applies at once); ``spool``:
    the log pipeline's, for OTLP logs (None: ``/api/v1/otlp/v1/logs`` answers 404)."""
    h = _Handlers(ingest, config, spool)
    router = APIRouter()
    router.add_api_route(WRITE_PATH, h.remote_write, methods=["POST"], include_in_schema=False)
    router.add_api_route(OTLP_METRICS_PATH, h.otlp_metrics, methods=["POST"], include_in_schema=False)
    router.add_api_route(OTLP_LOGS_PATH, h.otlp_logs, methods=["POST"], include_in_schema=False)
    return router
