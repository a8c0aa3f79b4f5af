"""Asynchronous CC jobs: ``POST /v3/spaces/:guid/actions/apply_manifest`` answers 202 with the Location of a
job that the controller loop runs (PROCESSING -> COMPLETE, or FAILED with CF errors).

The manifest subset applied: ``applications[].name`` (an app of that space) and ``instances`` (or
``processes[type=web].instances``); anything else in the manifest is accepted and ignored, as a warning.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import yaml

from platforms.cf_sim.cc_model import Actor, CCError, Job
from platforms.cf_sim.foundation import Space

if TYPE_CHECKING:
    from platforms.cf_sim.cc_state import CCState

__all__ = ["MAX_JOBS", "MAX_MANIFEST_BYTES", "parse_manifest", "run_pending", "submit_manifest"]

MAX_MANIFEST_BYTES = 64 * 1024
MAX_JOBS = 1000
_APPLIED = {"name", "instances", "processes"}


def parse_manifest(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_MANIFEST_BYTES:
        raise CCError(413, 10004, "CF-InvalidRequest", f"The manifest is over {MAX_MANIFEST_BYTES} bytes")
    try:
        manifest = yaml.safe_load(body)
    except yaml.YAMLError as exc:
        raise CCError(
            400, 1001, "CF-MessageParseError", "Request invalid due to parse error: invalid YAML"
        ) from exc
    apps = manifest.get("applications") if isinstance(manifest, dict) else None
    if not isinstance(apps, list) or not all(
        isinstance(a, dict) and isinstance(a.get("name"), str) for a in apps
    ):
        raise CCError.unprocessable("Applications must be a list of applications with a name")
    return {"applications": apps}


def _instances(entry: dict[str, Any]) -> int | None:
    count = entry.get("instances")
    for proc in entry.get("processes") or []:
        if isinstance(proc, dict) and proc.get("type") == "web" and "instances" in proc:
            count = proc["instances"]
    if count is None:
        return None
    if isinstance(count, bool) or not isinstance(count, int):
        raise CCError.unprocessable("Instances must be an integer")
    return count


def submit_manifest(state: CCState, space: Space, manifest: dict[str, Any], actor: Actor) -> Job:
    now = state.clock()
    job = Job(
        str(uuid.uuid4()),
        "space.apply_manifest",
        now,
        now,
        space_guid=space.guid,
        manifest=manifest,
        actor=actor,
    )
    with state.lock:
        if len(state.jobs) >= MAX_JOBS:  # forget the oldest finished ones
            for guid in [g for g, j in state.jobs.items() if j.state != "PROCESSING"][: MAX_JOBS // 10]:
                del state.jobs[guid]
        state.jobs[job.guid] = job
    return job


def _apply(state: CCState, job: Job) -> None:
    space = next(s for s in state.foundation.spaces if s.guid == job.space_guid)
    actor = job.actor or Actor("", "unknown")
    for entry in job.manifest["applications"]:
        app = next(
            (a for a in state.foundation.apps_in(space.org, space.name) if a.name == entry["name"]), None
        )
        if app is None:
            raise CCError.unprocessable(
                f"For application '{entry['name']}': the simulator cannot create apps"
            )
        ignored = sorted(set(entry) - _APPLIED)
        if ignored:
            job.warnings.append(
                {"detail": f"{entry['name']}: not applied by the simulator: {', '.join(ignored)}"}
            )
        count = _instances(entry)
        if count is not None and count != state.process_instances(app, "web"):
            state.scale(app, "web", count, actor)
        state.record("audit.app.apply_manifest", actor, app, {"request": {"manifest": "(applied)"}})


def run_pending(state: CCState) -> None:
    with state.lock:
        pending = [j for j in state.jobs.values() if j.state == "PROCESSING"]
    for job in pending:
        try:
            _apply(state, job)
            job.state = "COMPLETE"
        except CCError as exc:
            job.state = "FAILED"
            job.errors.append({"code": exc.code, "title": exc.title, "detail": exc.detail})
        job.updated_at = state.clock()
