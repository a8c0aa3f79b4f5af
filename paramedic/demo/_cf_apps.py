"""The Cloud Foundry demo's foundation in demo.json (orgs, spaces and apps with GUIDs and the local app behind
each), and mapping ``paramedic demo fault --app`` names through it: a local app name (``api-acme-prod``) or
``org/space/name`` (``acme/prod/api``)."""

from __future__ import annotations

from typing import Any

from paramedic.demo._output import DemoError
from platforms.cf_sim.foundation import Foundation

__all__ = ["foundation_record", "local_app_for"]


def foundation_record(foundation: Foundation) -> dict[str, Any]:
    """``{"orgs": [{name, guid, spaces: [{name, guid}]}], "apps": [{org, space, name, guid, local_app}]}``."""
    orgs = [
        {
            "name": org.name,
            "guid": org.guid,
            "spaces": [{"name": s.name, "guid": s.guid} for s in foundation.spaces if s.org == org.name],
        }
        for org in foundation.orgs
    ]
    apps = [
        {"org": a.org, "space": a.space, "name": a.name, "guid": a.guid, "local_app": a.local_app}
        for a in foundation.apps
    ]
    return {"orgs": orgs, "apps": apps}


def local_app_for(record: dict[str, Any], app: str) -> str:
    """The local app that ``app`` names in the running demo of ``record``: ``org/space/name`` is looked up in
    the Cloud Foundry demo's foundation; any other name is a local app name, returned as is (checked later
    against the platform's state, which lists the valid ones)."""
    if "/" not in app:
        return app
    cf_apps: list[dict[str, Any]] = record.get("foundation", {}).get("apps", [])
    if not cf_apps:
        raise DemoError(
            f"--app {app!r}: org/space/name works only with `paramedic demo --platform cloudfoundry`"
        )
    parts = app.split("/")
    for cf_app in cf_apps:
        if parts == [cf_app["org"], cf_app["space"], cf_app["name"]]:
            return str(cf_app["local_app"])
    valid = ", ".join(f"{a['org']}/{a['space']}/{a['name']}" for a in cf_apps)
    raise DemoError(f"no Cloud Foundry app {app!r} (valid: {valid})")
