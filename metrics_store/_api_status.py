"""Status and compatibility endpoints Grafana's Prometheus datasource (and promtool, curl users) call.

``status_router(info)`` serves, in Prometheus 2.42's JSON shapes:

* ``/api/v1/status/buildinfo`` — ``version`` is the Prometheus API level Paramedic implements
  (:data:`PROMETHEUS_COMPAT_VERSION`; Grafana reads it to choose features such as ``match[]`` on label
  endpoints); ``application: paramedic`` and ``paramedicVersion`` say what actually answers. No ``features``
  key: Grafana takes a non-empty one to mean Mimir/Cortex with a ruler.
* ``/api/v1/status/runtimeinfo``, ``/api/v1/status/config`` (``{"yaml": ...}``; 403 to a principal scoped to
  orgs/spaces: the configuration names every tenant), ``/api/v1/status/flags``
* ``/api/v1/format_query`` (promql-parser's prettifier), ``/api/v1/query_exemplars`` (no exemplars are
  stored: an empty list after validating the query), ``/api/v1/rules`` and ``/api/v1/alerts`` (empty until
  the alerting component exists).
"""

from __future__ import annotations

import os
import platform
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from metrics_store._query_string import FormRoute
from metrics_store.api_common import ApiError, Form, bad_param, error_response, success
from metrics_store.promql import QueryParseError, format_query
from platforms.tenancy import scope_of

__all__ = ["PROMETHEUS_COMPAT_VERSION", "ServerInfo", "status_router"]

PROMETHEUS_COMPAT_VERSION = "2.42.0"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the status endpoints report. Callables are read at request time (config can be reloaded)."""

    version: str
    started_at: datetime
    config_yaml: Callable[[], str]
    flags: Mapping[str, str] = field(default_factory=dict)
    storage_retention: str = ""
    revision: str = ""
    last_reload: Callable[[], tuple[bool, datetime]] | None = None


def _format_query(form: Form) -> str:
    """The query pretty-printed; checked as the engine checks it (limits, RE2 patterns), never compiling a
    pattern in the native parser."""
    try:
        return format_query(form.get("query"))
    except QueryParseError as exc:
        raise bad_param("query", str(exc)) from exc


def status_router(info: ServerInfo) -> APIRouter:
    router = APIRouter(route_class=FormRoute)  # format_query and query_exemplars take a 64 KiB query

    @router.get("/api/v1/status/buildinfo")
    def buildinfo() -> Response:
        return success(
            {
                "version": PROMETHEUS_COMPAT_VERSION,
                "revision": info.revision,
                "branch": "",
                "buildUser": "",
                "buildDate": "",
                "goVersion": f"python{platform.python_version()}",
                "application": "paramedic",
                "paramedicVersion": info.version,
            }
        )

    @router.get("/api/v1/status/runtimeinfo")
    def runtimeinfo() -> Response:
        ok, when = info.last_reload() if info.last_reload else (True, info.started_at)
        return success(
            {
                "startTime": _rfc3339(info.started_at),
                "CWD": str(Path.cwd()),
                "reloadConfigSuccess": ok,
                "lastConfigTime": _rfc3339(when),
                "corruptionCount": 0,
                "goroutineCount": threading.active_count(),
                "GOMAXPROCS": os.cpu_count() or 1,
                "GOGC": "",
                "GODEBUG": "",
                "storageRetention": info.storage_retention,
            }
        )

    @router.get("/api/v1/status/config")
    def config(request: Request) -> Response:
        scope = scope_of(request)
        if not scope.is_foundation:  # the foundation's configuration names every tenant (receivers, rules)
            return error_response(
                ApiError(
                    "forbidden",  # as the auth middleware's 403s
                    403,
                    f"the configuration is shown to foundation-wide principals, not to {scope.describe()}",
                )
            )
        return success({"yaml": info.config_yaml()})

    @router.get("/api/v1/status/flags")
    def flags() -> Response:
        return success(dict(info.flags))

    @router.api_route("/api/v1/format_query", methods=["GET", "POST"])
    async def format_query(request: Request) -> Response:
        try:
            form = await Form.read(request)
        except ApiError as exc:
            return error_response(exc)
        try:
            text = await run_in_threadpool(_format_query, form)
        except ApiError as exc:
            return error_response(exc)
        return success(text)

    @router.api_route("/api/v1/query_exemplars", methods=["GET", "POST"])
    async def query_exemplars(request: Request) -> Response:
        try:
            form = await Form.read(request)
            start, end = form.time("start", 0), form.time("end", 0)
            if form.get("start") and form.get("end") and end < start:
                raise ApiError("bad_data", 400, "end timestamp must not be before start timestamp")
            await run_in_threadpool(_format_query, form)
        except ApiError as exc:
            return error_response(exc)
        return success([])

    @router.get("/api/v1/rules")
    def rules() -> Response:
        return success({"groups": []})

    @router.get("/api/v1/alerts")
    def alerts() -> Response:
        return success({"alerts": []})

    return router
