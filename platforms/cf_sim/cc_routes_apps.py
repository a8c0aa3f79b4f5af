"""CC routes for apps, their actions, processes, process stats, scaling and instance termination."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from platforms.cf_sim.cc_context import CCContext, params_of
from platforms.cf_sim.cc_model import CCError
from platforms.cf_sim.cc_processes import SimProcess
from platforms.cf_sim.cc_query import Row, paginate, select
from platforms.cf_sim.cc_render import app_json, org_json, process_json, space_json, stat_json
from platforms.cf_sim.cc_state import CCState
from platforms.cf_sim.foundation import CFApp, guid_for

__all__ = ["app_routes"]

_APP_FILTERS = {"names", "guids", "space_guids", "organization_guids", "created_ats", "updated_ats", "stacks"}
_INCLUDES = {"space", "space.organization"}


def _app_row(ctx: CCContext, app: CFApp) -> Row:
    st = ctx.state
    return Row(
        app_json(ctx.base, st, app),
        {
            "name": app.name,
            "guid": app.guid,
            "space_guid": app.space_guid,
            "organization_guid": guid_for("org", app.org),
            "state": st.app_state[app.guid],
            "stack": "cflinuxfs4",
        },
        {"created_at": st.booted_at, "updated_at": st.updated_at[app.guid]},
    )


def _included(ctx: CCContext, apps: list[dict[str, Any]], include: str) -> dict[str, Any] | None:
    if not include:
        return None
    wanted = set(include.split(","))
    if not wanted <= _INCLUDES:
        raise CCError.bad_query("Invalid included resource: " + ", ".join(sorted(wanted - _INCLUDES)))
    space_guids = {a["relationships"]["space"]["data"]["guid"] for a in apps}
    spaces = [s for s in ctx.state.foundation.spaces if s.guid in space_guids]
    included: dict[str, Any] = {"spaces": [space_json(ctx.base, s, ctx.state.booted_at) for s in spaces]}
    if "space.organization" in wanted:
        orgs = {s.org for s in spaces}
        included["organizations"] = [
            org_json(ctx.base, o, ctx.state.booted_at) for o in ctx.state.foundation.orgs if o.name in orgs
        ]
    return included


def _process_rows(ctx: CCContext, apps: list[CFApp]) -> list[Row]:
    st = ctx.state
    rows = []
    for app in apps:
        for proc in st.processes(app):
            body = process_json(ctx.base, st, proc)
            fields = {
                "guid": proc.guid,
                "type": proc.type,
                "app_guid": app.guid,
                "space_guid": app.space_guid,
                "organization_guid": guid_for("org", app.org),
            }
            times = {"created_at": st.booted_at, "updated_at": st.updated_at[app.guid]}
            if proc.deployment is not None:
                times = {"created_at": proc.deployment.created_at, "updated_at": proc.deployment.updated_at}
            rows.append(Row(body, fields, times))
    return rows


def _stats(st: CCState, proc: SimProcess) -> dict[str, Any]:
    return {"resources": [stat_json(proc.app, proc.type, s) for s in st.stats(proc)]}


def _own_process(st: CCState, app: CFApp, ptype: str) -> SimProcess:
    """``/v3/apps/:guid/processes/:type``: the app's own process of that type (not a deployment's)."""
    if ptype not in app.process_types:
        raise CCError.not_found("Process")
    return st.process(app.process_guid(ptype))


def app_routes(ctx: CCContext) -> APIRouter:  # noqa: PLR0915 -- one route table
    router = APIRouter()
    st = ctx.state

    @router.get("/v3/apps")
    def list_apps(request: Request) -> dict[str, Any]:
        caller = ctx.caller(request)
        params = params_of(request)
        include = params.pop("include", "")
        rows = [_app_row(ctx, a) for a in st.foundation.apps if caller.sees_space(a.space_guid)]
        chosen = select(rows, params, _APP_FILTERS, ("created_at", "updated_at", "name", "state"))
        body = paginate(chosen, params | ({"include": include} if include else {}), f"{ctx.base}/v3/apps")
        included = _included(ctx, body["resources"], include)
        if included is not None:
            body["included"] = included
        return body

    @router.get("/v3/apps/{guid}")
    def get_app(guid: str, request: Request) -> dict[str, Any]:
        app = ctx.visible_app(ctx.caller(request), guid)
        body = app_json(ctx.base, st, app)
        include = request.query_params.get("include", "")
        included = _included(ctx, [body], include)
        if included is not None:
            body["included"] = included
        return body

    @router.post("/v3/apps/{guid}/actions/{action}")
    def app_action(guid: str, action: str, request: Request) -> dict[str, Any]:
        caller = ctx.caller(request)
        app = ctx.visible_app(caller, guid)
        if action not in ("restart", "start", "stop"):
            raise CCError.not_found("Unknown request")
        caller.check_write(app.space_guid)
        {"restart": st.restart, "start": st.start, "stop": st.stop}[action](app, caller.actor)
        return app_json(ctx.base, st, app)

    @router.get("/v3/apps/{guid}/processes")
    def app_processes(guid: str, request: Request) -> dict[str, Any]:
        app = ctx.visible_app(ctx.caller(request), guid)
        params = params_of(request)
        rows = select(_process_rows(ctx, [app]), params, {"types", "guids"})
        return paginate(rows, params, f"{ctx.base}/v3/apps/{guid}/processes")

    @router.get("/v3/apps/{guid}/processes/{ptype}")
    def app_process(guid: str, ptype: str, request: Request) -> dict[str, Any]:
        app = ctx.visible_app(ctx.caller(request), guid)
        return process_json(ctx.base, st, _own_process(st, app, ptype))

    @router.get("/v3/apps/{guid}/processes/{ptype}/stats")
    def app_process_stats(guid: str, ptype: str, request: Request) -> dict[str, Any]:
        app = ctx.visible_app(ctx.caller(request), guid)
        return _stats(st, _own_process(st, app, ptype))

    @router.get("/v3/processes")
    def list_processes(request: Request) -> dict[str, Any]:
        caller = ctx.caller(request)
        params = params_of(request)
        apps = [a for a in st.foundation.apps if caller.sees_space(a.space_guid)]
        filters = {
            "types",
            "guids",
            "app_guids",
            "space_guids",
            "organization_guids",
            "created_ats",
            "updated_ats",
        }
        rows = select(_process_rows(ctx, apps), params, filters)
        return paginate(rows, params, f"{ctx.base}/v3/processes")

    @router.get("/v3/processes/{guid}")
    def get_process(guid: str, request: Request) -> dict[str, Any]:
        return process_json(ctx.base, st, ctx.visible_process(ctx.caller(request), guid))

    @router.get("/v3/processes/{guid}/stats")
    def process_stats(guid: str, request: Request) -> dict[str, Any]:
        return _stats(st, ctx.visible_process(ctx.caller(request), guid))

    @router.get("/v3/processes/{guid}/process_instances")
    def process_instances(guid: str, request: Request) -> dict[str, Any]:
        proc = ctx.visible_process(ctx.caller(request), guid)
        path = f"{ctx.base}/v3/processes/{guid}"
        return {
            "resources": [
                {"index": s.index, "state": s.state, "since": 0 if s.usage is None else s.usage.uptime_s}
                for s in st.stats(proc)
            ],
            "links": {"self": {"href": f"{path}/process_instances"}, "process": {"href": path}},
        }

    @router.post("/v3/processes/{guid}/actions/scale", status_code=202)
    def scale(
        guid: str, request: Request, body: Annotated[dict[str, Any] | None, Body()] = None
    ) -> dict[str, Any]:
        payload = body or {}
        caller = ctx.caller(request)
        proc = ctx.visible_process(caller, guid)
        caller.check_write(proc.app.space_guid)
        if proc.deployment is not None:
            raise CCError.unprocessable("Cannot scale this process while a deployment is in flight.")
        unknown = sorted(
            set(payload) - {"instances", "memory_in_mb", "disk_in_mb", "log_rate_limit_in_bytes_per_second"}
        )
        if unknown:
            raise CCError.unprocessable("Unknown field(s): " + ", ".join(f"'{k}'" for k in unknown))
        instances = payload.get("instances")
        if instances is not None:
            if isinstance(instances, bool) or not isinstance(instances, int):
                raise CCError.unprocessable("Instances is not a number")
            st.scale(proc.app, proc.type, instances, caller.actor)
        return process_json(ctx.base, st, proc)

    @router.delete("/v3/processes/{guid}/instances/{index}", status_code=204)
    def terminate(guid: str, index: int, request: Request) -> Response:
        caller = ctx.caller(request)
        proc = ctx.visible_process(caller, guid)
        caller.check_write(proc.app.space_guid)
        st.kill_instance(proc, index, caller.actor)
        return Response(status_code=204)

    return router
