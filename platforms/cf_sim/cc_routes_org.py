"""CC routes for organizations, spaces, roles, users and audit events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from platforms.cf_sim.accounts import Role
from platforms.cf_sim.cc_auth import Caller
from platforms.cf_sim.cc_context import CCContext, params_of
from platforms.cf_sim.cc_model import CCError
from platforms.cf_sim.cc_query import Row, paginate, select
from platforms.cf_sim.cc_render import audit_json, org_json, role_json, space_json, user_json
from platforms.cf_sim.foundation import guid_for

__all__ = ["org_routes"]

_TIMES = {"created_ats", "updated_ats"}


def _role_visible(caller: Caller, role: Role) -> bool:
    if role.space is not None:
        return caller.sees_space(guid_for("space", role.org, role.space))
    return caller.sees_org(guid_for("org", role.org))


def org_routes(ctx: CCContext) -> APIRouter:
    router = APIRouter()
    st = ctx.state
    boot = {"created_at": st.booted_at, "updated_at": st.booted_at}

    def orgs(caller: Caller) -> list[Row]:
        visible_spaces = {s.org for s in st.foundation.spaces if caller.sees_space(s.guid)}
        return [
            Row(org_json(ctx.base, o, st.booted_at), {"guid": o.guid, "name": o.name}, boot)
            for o in st.foundation.orgs
            if caller.sees_org(o.guid) or o.name in visible_spaces
        ]

    def spaces(caller: Caller) -> list[Row]:
        return [
            Row(
                space_json(ctx.base, s, st.booted_at),
                {"guid": s.guid, "name": s.name, "organization_guid": guid_for("org", s.org)},
                boot,
            )
            for s in st.foundation.spaces
            if caller.sees_space(s.guid)
        ]

    def one(rows: list[Row], guid: str, what: str) -> dict[str, Any]:
        found = next((r.resource for r in rows if r.fields["guid"] == guid), None)
        if found is None:
            raise CCError.not_found(what)
        return found

    @router.get("/v3/organizations")
    def list_orgs(request: Request) -> dict[str, Any]:
        params = params_of(request)
        rows = select(
            orgs(ctx.caller(request)),
            params,
            {"names", "guids", *_TIMES},
            ("created_at", "updated_at", "name"),
        )
        return paginate(rows, params, f"{ctx.base}/v3/organizations")

    @router.get("/v3/organizations/{guid}")
    def get_org(guid: str, request: Request) -> dict[str, Any]:
        return one(orgs(ctx.caller(request)), guid, "Organization")

    @router.get("/v3/spaces")
    def list_spaces(request: Request) -> dict[str, Any]:
        params = params_of(request)
        filters = {"names", "guids", "organization_guids", *_TIMES}
        rows = select(spaces(ctx.caller(request)), params, filters, ("created_at", "updated_at", "name"))
        return paginate(rows, params, f"{ctx.base}/v3/spaces")

    @router.get("/v3/spaces/{guid}")
    def get_space(guid: str, request: Request) -> dict[str, Any]:
        return one(spaces(ctx.caller(request)), guid, "Space")

    def roles(caller: Caller) -> list[Row]:
        rows = []
        for role in ctx.accounts.roles:
            user = ctx.accounts.user(role.username)
            if user is None or not _role_visible(caller, role):
                continue
            space = "" if role.space is None else guid_for("space", role.org, role.space)
            fields = {
                "guid": role.guid,
                "type": role.type,
                "user_guid": user.guid,
                "space_guid": space,
                "organization_guid": "" if space else guid_for("org", role.org),
            }
            rows.append(Row(role_json(ctx.base, role, user, st.booted_at), fields, boot))
        return rows

    @router.get("/v3/roles")
    def list_roles(request: Request) -> dict[str, Any]:
        params = params_of(request)
        filters = {"guids", "types", "user_guids", "space_guids", "organization_guids", *_TIMES}
        rows = select(roles(ctx.caller(request)), params, filters)
        return paginate(rows, params, f"{ctx.base}/v3/roles")

    @router.get("/v3/roles/{guid}")
    def get_role(guid: str, request: Request) -> dict[str, Any]:
        return one(roles(ctx.caller(request)), guid, "Role")

    def users(caller: Caller) -> list[Row]:
        visible = {r.fields["user_guid"] for r in roles(caller)}
        if caller.reads_all:
            visible |= {u.guid for u in ctx.accounts.users}
        if caller.username:
            user = ctx.accounts.user(caller.username)
            visible |= {user.guid} if user else set()
        return [
            Row(user_json(ctx.base, u, st.booted_at), {"guid": u.guid, "username": u.username}, boot)
            for u in ctx.accounts.users
            if u.guid in visible
        ]

    @router.get("/v3/users")
    def list_users(request: Request) -> dict[str, Any]:
        params = params_of(request)
        rows = select(users(ctx.caller(request)), params, {"guids", "usernames", *_TIMES})
        return paginate(rows, params, f"{ctx.base}/v3/users")

    @router.get("/v3/users/{guid}")
    def get_user(guid: str, request: Request) -> dict[str, Any]:
        return one(users(ctx.caller(request)), guid, "User")

    def audit(caller: Caller) -> list[Row]:
        with st.lock:
            events = list(st.audit)
        return [
            Row(
                audit_json(ctx.base, e),
                {
                    "guid": e.guid,
                    "type": e.type,
                    "target_guid": e.target_guid,
                    "space_guid": e.space_guid,
                    "organization_guid": e.org_guid,
                },
                {"created_at": e.created_at, "updated_at": e.created_at},
            )
            for e in events
            if caller.sees_space(e.space_guid)
        ]

    @router.get("/v3/audit_events")
    def list_audit(request: Request) -> dict[str, Any]:
        params = params_of(request)
        filters = {"guids", "types", "target_guids", "space_guids", "organization_guids", *_TIMES}
        rows = select(audit(ctx.caller(request)), params, filters)
        return paginate(rows, params, f"{ctx.base}/v3/audit_events")

    @router.get("/v3/audit_events/{guid}")
    def get_audit(guid: str, request: Request) -> dict[str, Any]:
        return one(audit(ctx.caller(request)), guid, "Event")

    return router
