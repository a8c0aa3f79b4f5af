"""``paramedic demo deploy`` on the Cloud Foundry demo: what the local demo does, through the foundation.

The new revision is created on the simulated foundation's platform (as a ``cf push`` of new code would leave a
new droplet and revision), found by its CF revision GUID through the Cloud Controller (as the foundation's
admin, from ``cf-credentials.json``), and deployed as a canary through Paramedic's API with the Cloud Foundry
gates (per-instance router data from Log Cache): Paramedic drives CC deployments, continues or cancels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from paramedic.demo._cf_apps import local_app_for
from paramedic.demo._output import DemoApiError, DemoError

__all__ = ["cf_app_guid", "cf_revision_guid"]


def cf_app_guid(record: dict[str, Any], app: str) -> str:
    """The GUID of ``app`` (``org/space/name`` or the local app behind it) in the running CF demo."""
    local = local_app_for(record, app)
    for cf_app in record.get("foundation", {}).get("apps", []):
        if cf_app["local_app"] == local:
            return str(cf_app["guid"])
    valid = ", ".join(f"{a['org']}/{a['space']}/{a['name']}" for a in record["foundation"]["apps"])
    raise DemoError(f"no Cloud Foundry app {app!r} (valid: {valid})")


def _admin_token(record: dict[str, Any]) -> str:
    creds = json.loads(Path(record["cf_credentials_file"]).read_text(encoding="utf-8"))
    form = {"grant_type": "password", "username": "admin", "password": creds["users"]["admin"]}
    try:
        resp = httpx.post(f"{record['uaa_url']}/oauth/token", data=form, auth=("cf", ""), timeout=10.0)
    except httpx.HTTPError as exc:
        raise DemoApiError(f"UAA login: {exc}") from exc
    if resp.status_code != 200:
        raise DemoApiError(f"UAA login: HTTP {resp.status_code}: {resp.text.strip()}")
    return str(resp.json()["access_token"])


def cf_revision_guid(record: dict[str, Any], app_guid: str, version: str) -> str:
    """The CF revision GUID of the newest revision of ``app_guid`` whose description names ``version``."""
    headers = {"Authorization": f"bearer {_admin_token(record)}"}
    url = f"{record['cc_url']}/v3/apps/{app_guid}/revisions"
    try:
        resp = httpx.get(url, params={"per_page": "100"}, headers=headers, timeout=10.0)
    except httpx.HTTPError as exc:
        raise DemoApiError(f"GET /v3/apps/{app_guid}/revisions: {exc}") from exc
    if resp.status_code != 200:
        raise DemoApiError(f"GET /v3/apps/{app_guid}/revisions: HTTP {resp.status_code}: {resp.text.strip()}")
    found = [r for r in resp.json().get("resources", []) if version in str(r.get("description"))]
    if not found:
        raise DemoApiError(f"the Cloud Controller lists no revision of {app_guid} with version {version}")
    return str(max(found, key=lambda r: int(r.get("version", 0)))["guid"])
