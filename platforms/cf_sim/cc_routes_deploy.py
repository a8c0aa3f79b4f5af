"""CC routes for deployments, revisions, jobs and ``apply_manifest``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response

from platforms.cf_sim.cc_auth import Caller
from platforms.cf_sim.cc_context import MAX_BODY_BYTES, CCContext, params_of
from platforms.cf_sim.cc_deployments import parse_steps, revision_guid
from platforms.cf_sim.cc_jobs import parse_manifest, submit_manifest
from platforms.cf_sim.cc_model import CCError
from platforms.cf_sim.cc_query import Row, paginate, select
from platforms.cf_sim.cc_render import deployment_json, job_json, revision_json
from platforms.cf_sim.foundation import CFApp
from platforms.cf_sim.http_limits import BodyTooLargeError, read_limited

__all__ = ["deploy_routes"]

_STRATEGIES = ("rolling", "canary")


def _guid_at(payload: dict[str, Any], *path: str) -> str | None:
    node: Any = payload
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, str) else None


def deploy_routes(ctx: CCContext) -> APIRouter:  # noqa: PLR0915 -- one route table
    router = APIRouter()
    st = ctx.state

    def deployment_rows(caller: Caller) -> list[Row]:
        rows = []
        for d in list(st.deployments.all.values()):
            app = st.app(d.app_guid)
            if caller.sees_space(app.space_guid):
                fields = {
                    "guid": d.guid,
                    "app_guid": d.app_guid,
                    "status_value": d.value,
                    "status_reason": d.reason,
                }
                rows.append(
                    Row(
                        deployment_json(ctx.base, d),
                        fields,
                        {"created_at": d.created_at, "updated_at": d.updated_at},
                    )
                )
        return rows

    @router.post("/v3/deployments", status_code=201)
    def create_deployment(
        request: Request, body: Annotated[dict[str, Any] | None, Body()] = None
    ) -> dict[str, Any]:
        payload = body or {}
        caller = ctx.caller(request)
        app_guid = _guid_at(payload, "relationships", "app", "data", "guid")
        if app_guid is None:
            raise CCError.unprocessable(
                "Relationships 'relationships' must include one or more valid relationships"
            )
        app = ctx.visible_app(caller, app_guid)
        caller.check_write(app.space_guid)
        strategy = payload.get("strategy", "rolling")
        if strategy not in _STRATEGIES:
            raise CCError.unprocessable("Strategy must be one of: 'rolling', 'canary'")
        steps = parse_steps(payload.get("options") or {}) if strategy == "canary" else []
        revision = _guid_at(payload, "revision", "guid")
        deployment = st.deployments.create(app, strategy, steps, revision, caller.actor)
        return deployment_json(ctx.base, deployment)

    @router.get("/v3/deployments")
    def list_deployments(request: Request) -> dict[str, Any]:
        params = params_of(request)
        filters = {"guids", "app_guids", "status_values", "status_reasons", "created_ats", "updated_ats"}
        rows = select(deployment_rows(ctx.caller(request)), params, filters)
        return paginate(rows, params, f"{ctx.base}/v3/deployments")

    def visible_deployment(caller: Caller, guid: str) -> CFApp:
        d = st.deployments.get(guid)
        return ctx.visible_app(caller, d.app_guid)

    @router.get("/v3/deployments/{guid}")
    def get_deployment(guid: str, request: Request) -> dict[str, Any]:
        visible_deployment(ctx.caller(request), guid)
        return deployment_json(ctx.base, st.deployments.get(guid))

    @router.post("/v3/deployments/{guid}/actions/{action}")
    def deployment_action(guid: str, action: str, request: Request) -> dict[str, Any]:
        caller = ctx.caller(request)
        app = visible_deployment(caller, guid)
        if action not in ("continue", "cancel"):
            raise CCError.not_found("Unknown request")
        caller.check_write(app.space_guid)
        if action == "cancel":
            return deployment_json(ctx.base, st.deployments.cancel(guid, caller.actor))
        return deployment_json(ctx.base, st.deployments.proceed(guid, caller.actor))

    def revisions(app: CFApp, deployed_only: bool) -> list[Row]:
        spec = st.platform.state().app(app.local_app)
        if spec is None:
            return []
        live = {i.revision for i in spec.instances}
        rows = []
        for rev in spec.revisions:
            if deployed_only and rev.id not in live:
                continue
            created = st.revision_seen.setdefault(rev.id, st.booted_at)
            rows.append(
                Row(
                    revision_json(ctx.base, app, rev, created, True),
                    {"guid": revision_guid(app, rev.id), "version": str(rev.version)},
                    {"created_at": created, "updated_at": created},
                )
            )
        return rows

    @router.get("/v3/apps/{guid}/revisions")
    def app_revisions(guid: str, request: Request) -> dict[str, Any]:
        app = ctx.visible_app(ctx.caller(request), guid)
        params = params_of(request)
        rows = select(revisions(app, False), params, {"versions", "created_ats", "updated_ats"})
        return paginate(rows, params, f"{ctx.base}/v3/apps/{guid}/revisions")

    @router.get("/v3/apps/{guid}/revisions/deployed")
    def deployed_revisions(guid: str, request: Request) -> dict[str, Any]:
        app = ctx.visible_app(ctx.caller(request), guid)
        params = params_of(request)
        rows = select(revisions(app, True), params, {"created_ats", "updated_ats"})
        return paginate(rows, params, f"{ctx.base}/v3/apps/{guid}/revisions/deployed")

    @router.get("/v3/revisions/{guid}")
    def get_revision(guid: str, request: Request) -> dict[str, Any]:
        caller = ctx.caller(request)
        for app in st.foundation.apps:
            if caller.sees_space(app.space_guid):
                found = next((r.resource for r in revisions(app, False) if r.fields["guid"] == guid), None)
                if found is not None:
                    return found
        raise CCError.not_found("Revision")

    @router.post("/v3/spaces/{guid}/actions/apply_manifest")
    async def apply_manifest(guid: str, request: Request) -> Response:
        caller = ctx.caller(request)
        space = next((s for s in st.foundation.spaces if s.guid == guid and caller.sees_space(s.guid)), None)
        if space is None:
            raise CCError.not_found("Space")
        caller.check_write(space.guid)
        try:
            body = await read_limited(request, MAX_BODY_BYTES)
        except BodyTooLargeError as exc:
            raise CCError(413, 10004, "CF-InvalidRequest", str(exc)) from exc
        job = submit_manifest(st, space, parse_manifest(body), caller.actor)
        return Response(status_code=202, headers={"Location": f"{ctx.base}/v3/jobs/{job.guid}"})

    @router.get("/v3/jobs/{guid}")
    def get_job(guid: str, request: Request) -> dict[str, Any]:
        caller = ctx.caller(request)
        job = st.jobs.get(guid)
        if job is None or (job.space_guid is not None and not caller.sees_space(job.space_guid)):
            raise CCError.not_found("Job")
        return job_json(ctx.base, job)

    return router
