"""Remediation in the demo: its policies (the local pack, switched live) and ``paramedic demo deploy``.

The demo ships the local policy pack with every policy live and demo timings (short cooldowns and
verification deadlines), so an injected fault is remediated at once and visible in ``/api/v1/actions``. A
new policy anywhere else starts in dry-run. ``paramedic demo deploy`` creates a new revision of an app
(optionally a bad one, with a fault baked in) and deploys it metric-gated blue-green through the API, as an
operator would.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client import CollectorRegistry

from paramedic.demo._cf_apps import local_app_for
from paramedic.demo._cf_deploy import cf_app_guid, cf_revision_guid
from paramedic.demo._daily import DailyLoad
from paramedic.demo._output import DemoApiError, Echo
from platforms.local import LocalPlatformError
from platforms.local.adapter import LocalPlatform

__all__ = ["PACK", "DemoDeploy", "demo_policies", "deploy", "remediation_config"]

PACK = Path(__file__).resolve().parents[2] / "remediation" / "packs" / "local.yaml"
TERMINAL = {"refused", "dry_run", "rejected", "expired", "failed", "verified", "escalated", "reverted"} | {
    "interrupted"
}


def demo_policies(data_dir: Path, interval_s: float, daily: DailyLoad | None = None) -> Path:
    """The local policy pack, every policy live, with cooldowns of 30 scrape intervals and verification
    deadlines of 60 (the pack's minutes suit production, not a demo); with ``daily``, the predictive
    policy of the app with the daily load."""
    doc = yaml.safe_load(PACK.read_text(encoding="utf-8"))
    for policy in doc["policies"]:
        policy["mode"] = "live"
        policy.setdefault("rails", {})["cooldown"] = f"{round(30 * interval_s)}s"
        policy.setdefault("verify", {})["deadline"] = f"{round(60 * interval_s)}s"
    if daily is not None:
        doc["policies"].append(daily.policy(interval_s))
    path = data_dir / "remediation" / "policies.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Written by `paramedic demo`: {PACK} switched live, with demo timings.\n"
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def remediation_config(data_dir: Path, interval_s: float, daily: DailyLoad | None = None) -> dict[str, Any]:
    return {
        "policy_files": [str(demo_policies(data_dir, interval_s, daily))],
        "data_dir": str(data_dir / "remediation"),
        "global_rails": {
            "cooldown": f"{round(30 * interval_s)}s",
            "budget": {"max_actions": 30, "window": "1h"},
            "blast_radius": {"max_instances_pct": 50, "max_apps": 3},
        },
        "platform_retries": 2,
        "platform_backoff_s": 0.2,
    }


def _api(record: dict[str, Any], data_dir: Path, method: str, path: str, body: Any = None) -> Any:
    token = (data_dir / "admin-token").read_text(encoding="utf-8").strip()
    try:
        resp = httpx.request(
            method,
            f"{record['api_url']}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10.0,
        )
    except httpx.HTTPError as exc:
        raise DemoApiError(f"{method} {path}: {exc}") from exc
    if resp.status_code >= 400:
        raise DemoApiError(f"{method} {path}: HTTP {resp.status_code}: {resp.text.strip()}")
    return resp.json()


@dataclass(frozen=True, slots=True)
class DemoDeploy:
    """What ``paramedic demo deploy`` asks for: a new revision ``version`` of ``app`` (``bad``: with that
    fault baked in), deployed blue-green in ``steps`` percent of ``step_duration_s`` each (None: the
    action's defaults); ``wait``: follow it to its end."""

    app: str
    version: str
    bad: str | None = None
    steps: list[int] | None = None
    step_duration_s: float | None = None
    wait: bool = True


def deploy(record: dict[str, Any], data_dir: Path, req: DemoDeploy, echo: Echo) -> int:
    """Create the revision, start the blue-green through the API; with ``req.wait``, follow it to its end.
    Returns the exit code; :class:`DemoApiError` when an API call fails."""
    env = {} if req.bad is None else {"SAMPLE_APP_FAULT": req.bad}
    cloudfoundry = record.get("platform") == "cloudfoundry"
    local_app = local_app_for(record, req.app) if cloudfoundry else req.app
    platform = LocalPlatform(Path(record["state_dir"]), registry=CollectorRegistry())
    try:
        revision = platform.create_revision(local_app, req.version, env=env)
    except LocalPlatformError as exc:
        echo(f"paramedic demo deploy: {exc}", err=True)
        return 1
    body: dict[str, Any] = {"app": req.app, "revision": revision.id}
    if cloudfoundry:  # a canary through CC deployments, judged on Log Cache's per-instance router data
        guid = cf_app_guid(record, req.app)
        body = {"app": guid, "revision": cf_revision_guid(record, guid, req.version), "gates": "cloudfoundry"}
    if req.steps:
        body["steps"] = req.steps
    if req.step_duration_s is not None:
        body["step_duration_s"] = req.step_duration_s
    rec = _api(record, data_dir, "POST", "/api/v1/deployments", body)
    action_id = rec["id"]
    fault = f" with the {req.bad} fault baked in" if req.bad else ""
    how = "as a canary through the Cloud Controller" if cloudfoundry else "blue-green"
    echo(f"deploying {req.app} {body['revision']} (version {req.version}{fault}) {how} as action {action_id}")
    echo(f"  follow it: GET {record['api_url']}/api/v1/actions/{action_id}")
    if not req.wait:
        return 0
    seen = 0
    while True:
        rec = _api(record, data_dir, "GET", f"/api/v1/actions/{action_id}")
        for event in rec["events"][seen:]:
            data = {k: v for k, v in event.get("data", {}).items() if k in ("weight", "passed", "reason")}
            echo(f"  {event['at']}  {event['kind']:<20} {json.dumps(data) if data else ''}")
        seen = len(rec["events"])
        if rec["status"] in TERMINAL:
            echo(f"{req.app}: {rec['status']}")
            return 0 if rec["status"] == "verified" else 1
        time.sleep(1.0)
