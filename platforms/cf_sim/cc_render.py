"""The simulated CC's JSON resources, in the shapes of the official CC API v3 examples (tests check every
key and type against them). ``base`` is the CC's external URL; every link is absolute, as CF's."""

from __future__ import annotations

import time
from typing import Any

from platforms.cf_sim.accounts import Role, User
from platforms.cf_sim.cc_deployments import droplet_guid, revision_guid
from platforms.cf_sim.cc_model import AuditEvent, Job, SimDeployment, cf_time
from platforms.cf_sim.cc_processes import SimProcess
from platforms.cf_sim.cc_state import CCState, InstanceStat
from platforms.cf_sim.foundation import CFApp, Org, Space, guid_for
from platforms.local.state import RevisionSpec

__all__ = [
    "app_json",
    "audit_json",
    "deployment_json",
    "job_json",
    "org_json",
    "process_json",
    "revision_json",
    "role_json",
    "space_json",
    "stat_json",
    "user_json",
]

MEMORY_MB = 256
DISK_MB = 1024
FDS_QUOTA = 16384


def _meta() -> dict[str, Any]:
    return {"labels": {}, "annotations": {}}


def _href(base: str, path: str, method: str | None = None) -> dict[str, str]:
    link = {"href": f"{base}{path}"}
    if method:
        link["method"] = method
    return link


def org_json(base: str, org: Org, created: float) -> dict[str, Any]:
    path = f"/v3/organizations/{org.guid}"
    quota = guid_for("org_quota", "default")
    return {
        "guid": org.guid,
        "created_at": cf_time(created),
        "updated_at": cf_time(created),
        "name": org.name,
        "suspended": False,
        "relationships": {"quota": {"data": {"guid": quota}}},
        "links": {
            "self": _href(base, path),
            "domains": _href(base, f"{path}/domains"),
            "default_domain": _href(base, f"{path}/domains/default"),
            "quota": _href(base, f"/v3/organization_quotas/{quota}"),
        },
        "metadata": _meta(),
    }


def space_json(base: str, space: Space, created: float) -> dict[str, Any]:
    path = f"/v3/spaces/{space.guid}"
    org = guid_for("org", space.org)
    return {
        "guid": space.guid,
        "created_at": cf_time(created),
        "updated_at": cf_time(created),
        "name": space.name,
        "suspended": False,
        "relationships": {"organization": {"data": {"guid": org}}, "quota": {"data": None}},
        "links": {
            "self": _href(base, path),
            "features": _href(base, f"{path}/features"),
            "organization": _href(base, f"/v3/organizations/{org}"),
            "apply_manifest": _href(base, f"{path}/actions/apply_manifest", "POST"),
        },
        "metadata": _meta(),
    }


def app_json(base: str, state: CCState, app: CFApp) -> dict[str, Any]:
    path = f"/v3/apps/{app.guid}"
    droplet = droplet_guid(app, state.current_revision(app))
    links = {
        "self": _href(base, path),
        "space": _href(base, f"/v3/spaces/{app.space_guid}"),
        **{k: _href(base, f"{path}/{k}") for k in ("processes", "packages", "environment_variables")},
        "current_droplet": _href(base, f"{path}/droplets/current"),
        "droplets": _href(base, f"{path}/droplets"),
        "tasks": _href(base, f"{path}/tasks"),
        "start": _href(base, f"{path}/actions/start", "POST"),
        "stop": _href(base, f"{path}/actions/stop", "POST"),
        "revisions": _href(base, f"{path}/revisions"),
        "deployed_revisions": _href(base, f"{path}/revisions/deployed"),
        "features": _href(base, f"{path}/features"),
    }
    return {
        "guid": app.guid,
        "name": app.name,
        "state": state.app_state[app.guid],
        "created_at": cf_time(state.booted_at),
        "updated_at": cf_time(state.updated_at[app.guid]),
        "lifecycle": {
            "type": "buildpack",
            "data": {"buildpacks": ["python_buildpack"], "stack": "cflinuxfs4"},
        },
        "relationships": {
            "space": {"data": {"guid": app.space_guid}},
            "current_droplet": {"data": {"guid": droplet}},
        },
        "links": links,
        "metadata": _meta(),
    }


def process_json(base: str, state: CCState, proc: SimProcess) -> dict[str, Any]:
    """A process; a deployment's new web process reports the deployment's revision and its times."""
    app, guid = proc.app, proc.guid
    path = f"/v3/processes/{guid}"
    created = state.booted_at if proc.deployment is None else proc.deployment.created_at
    updated = state.updated_at[app.guid] if proc.deployment is None else proc.deployment.updated_at
    return {
        "guid": guid,
        "type": proc.type,
        "command": "python -m platforms.local.sample_app",
        "user": "vcap",
        "instances": state.desired_instances(proc),
        "memory_in_mb": MEMORY_MB,
        "disk_in_mb": DISK_MB,
        "log_rate_limit_in_bytes_per_second": -1,
        "health_check": {
            "type": "http",
            "data": {"timeout": None, "invocation_timeout": None, "endpoint": "/healthz"},
        },
        "readiness_health_check": {"type": "process", "data": {"invocation_timeout": None}},
        "relationships": {
            "app": {"data": {"guid": app.guid}},
            "revision": {"data": {"guid": revision_guid(app, proc.revision)}},
        },
        "metadata": _meta(),
        "created_at": cf_time(created),
        "updated_at": cf_time(updated),
        "version": guid_for("process_version", guid, proc.revision),
        "links": {
            "self": _href(base, path),
            "scale": _href(base, f"{path}/actions/scale", "POST"),
            "app": _href(base, f"/v3/apps/{app.guid}"),
            "space": _href(base, f"/v3/spaces/{app.space_guid}"),
            "stats": _href(base, f"{path}/stats"),
            "process_instances": _href(base, f"{path}/process_instances"),
        },
    }


def stat_json(app: CFApp, ptype: str, stat: InstanceStat) -> dict[str, Any]:
    usage = stat.usage
    now = time.time()
    return {
        "type": ptype,
        "index": stat.index,
        "instance_guid": guid_for("instance", app.guid, str(stat.index), str(stat.port)),
        "state": stat.state,
        "routable": stat.state == "RUNNING",
        "usage": {}
        if usage is None
        else {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z",
            "cpu": usage.cpu,
            "cpu_entitlement": None,
            "mem": usage.mem_bytes,
            "disk": stat.disk_bytes,
            "log_rate": 0,
        },
        "host": "127.0.0.1",
        "instance_internal_ip": "127.0.0.1",
        "instance_ports": [
            {
                "external": stat.port,
                "internal": stat.port,
                "external_tls_proxy_port": 0,
                "internal_tls_proxy_port": 0,
            }
        ],
        "uptime": 0 if usage is None else usage.uptime_s,
        "mem_quota": MEMORY_MB * 1024 * 1024,
        "disk_quota": DISK_MB * 1024 * 1024,
        "log_rate_limit": -1,
        "fds_quota": FDS_QUOTA,
        "isolation_segment": None,
        "details": stat.details,
    }


def deployment_json(base: str, d: SimDeployment) -> dict[str, Any]:
    path = f"/v3/deployments/{d.guid}"
    status: dict[str, Any] = {
        "value": d.value,
        "reason": d.reason,
        "details": {
            "last_successful_healthcheck": cf_time(d.updated_at),
            "last_status_change": cf_time(d.updated_at),
        },
    }
    # every new instance starts at once beside the old ones (the local platform's blue-green deployment)
    options: dict[str, Any] = {"max_in_flight": max(d.instances, 1), "web_instances": d.instances}
    if d.strategy == "canary":
        status["canary"] = {"steps": {"current": d.step, "total": len(d.steps)}}
        options["canary"] = {"steps": [{"instance_weight": w} for w in d.steps]}
    return {
        "guid": d.guid,
        "status": status,
        "strategy": d.strategy,
        "options": options,
        "droplet": {"guid": d.droplet_guid},
        "previous_droplet": {"guid": d.previous_droplet_guid},
        "new_processes": [{"guid": d.process_guid, "type": "web"}],
        "revision": {"guid": d.revision_guid, "version": d.revision_version},
        "created_at": cf_time(d.created_at),
        "updated_at": cf_time(d.updated_at),
        "metadata": _meta(),
        "relationships": {"app": {"data": {"guid": d.app_guid}}},
        "links": {
            "self": _href(base, path),
            "app": _href(base, f"/v3/apps/{d.app_guid}"),
            "cancel": _href(base, f"{path}/actions/cancel", "POST"),
            "continue": _href(base, f"{path}/actions/continue", "POST"),
        },
    }


def revision_json(
    base: str, app: CFApp, rev: RevisionSpec, created: float, deployable: bool
) -> dict[str, Any]:
    guid = revision_guid(app, rev.id)
    return {
        "guid": guid,
        "version": rev.version,
        "droplet": {"guid": droplet_guid(app, rev.id)},
        "processes": {"web": {"command": "python -m platforms.local.sample_app"}},
        "sidecars": [],
        "description": rev.description,
        "deployable": deployable,
        "relationships": {"app": {"data": {"guid": app.guid}}},
        "created_at": cf_time(created),
        "updated_at": cf_time(created),
        "metadata": _meta(),
        "links": {
            "self": _href(base, f"/v3/revisions/{guid}"),
            "app": _href(base, f"/v3/apps/{app.guid}"),
            "environment_variables": _href(base, f"/v3/revisions/{guid}/environment_variables"),
        },
    }


def audit_json(base: str, e: AuditEvent) -> dict[str, Any]:
    return {
        "guid": e.guid,
        "created_at": cf_time(e.created_at),
        "updated_at": cf_time(e.created_at),
        "type": e.type,
        "actor": {"guid": e.actor.guid, "type": e.actor.type, "name": e.actor.name},
        "target": {"guid": e.target_guid, "type": e.target_type, "name": e.target_name},
        "data": e.data,
        "space": {"guid": e.space_guid},
        "organization": {"guid": e.org_guid},
        "links": {"self": _href(base, f"/v3/audit_events/{e.guid}")},
    }


def role_json(base: str, role: Role, user: User, created: float) -> dict[str, Any]:
    org = guid_for("org", role.org)
    space = None if role.space is None else guid_for("space", role.org, role.space)
    links = {"self": _href(base, f"/v3/roles/{role.guid}"), "user": _href(base, f"/v3/users/{user.guid}")}
    if space is None:
        links["organization"] = _href(base, f"/v3/organizations/{org}")
    else:
        links["space"] = _href(base, f"/v3/spaces/{space}")
    return {
        "guid": role.guid,
        "created_at": cf_time(created),
        "updated_at": cf_time(created),
        "type": role.type,
        "relationships": {
            "user": {"data": {"guid": user.guid}},
            "organization": {"data": None if space else {"guid": org}},
            "space": {"data": None if space is None else {"guid": space}},
        },
        "links": links,
    }


def user_json(base: str, user: User, created: float) -> dict[str, Any]:
    return {
        "guid": user.guid,
        "created_at": cf_time(created),
        "updated_at": cf_time(created),
        "username": user.username,
        "presentation_name": user.username,
        "origin": "uaa",
        "metadata": _meta(),
        "links": {"self": _href(base, f"/v3/users/{user.guid}")},
    }


def job_json(base: str, job: Job) -> dict[str, Any]:
    links = {"self": _href(base, f"/v3/jobs/{job.guid}")}  # the examples link only an app, never a space
    return {
        "guid": job.guid,
        "created_at": cf_time(job.created_at),
        "updated_at": cf_time(job.updated_at),
        "operation": job.operation,
        "state": job.state,
        "links": links,
        "errors": job.errors,
        "warnings": job.warnings,
    }
