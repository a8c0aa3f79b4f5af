"""Revisions and blue-green deployments as pure transitions of one app's desired state (:class:`AppSpec`).

Each function returns the new ``AppSpec`` and the record it touched; the adapter persists it and reconciles
supervisord and HAProxy. Every transition is idempotent: applied to its own result it changes nothing, so a
retried action (persisted, then failed while reconciling) completes the half-done one.

Lifecycle: ``start`` adds as many instances of the new revision as the current one has (next free indexes)
and an active (DEPLOYING) record whose ``weight_pct`` splits the router weights (``AppSpec.weight_of``);
``set_weight`` moves the split; ``promote`` keeps only the new instances and makes the revision current
(DEPLOYED); ``cancel`` keeps only the old ones (CANCELED); ``rollback`` replaces every instance with new ones
of a revision at once and records a DEPLOYED deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from platforms.local.errors import DeploymentError, StateError, UnknownAppError
from platforms.local.state import AppSpec, DeploymentSpec, InstanceSpec, RevisionSpec, validate_env

__all__ = [
    "cancel",
    "create_revision",
    "find",
    "mark_taken_over",
    "promote",
    "rollback",
    "set_weight",
    "start",
]

_MAX_VERSION_CHARS = 64


def create_revision(spec: AppSpec, app_version: str, env: dict[str, str]) -> tuple[AppSpec, RevisionSpec]:
    """A new revision ``v<N+1>``; the latest revision when it has the same version and env (a retry)."""
    if not app_version or len(app_version) > _MAX_VERSION_CHARS or any(c.isspace() for c in app_version):
        raise StateError(
            "state", "create_revision", f"version must be 1-64 non-blank chars, got {app_version!r}"
        )
    pairs = validate_env(env, "create_revision")
    latest = spec.revisions[-1]
    if latest.app_version == app_version and latest.env == pairs:
        return spec, latest
    number = max(r.version for r in spec.revisions) + 1
    revision = RevisionSpec(f"v{number}", number, app_version, pairs)
    return replace(spec, revisions=(*spec.revisions, revision)), revision


def _revision(spec: AppSpec, revision: str, call: str) -> RevisionSpec:
    found = spec.revision(revision)
    if found is None:
        raise UnknownAppError(
            call, f"{spec.name} has no revision {revision!r}", [r.id for r in spec.revisions]
        )
    return found


def _weight(weight_pct: int, call: str) -> int:
    if isinstance(weight_pct, bool) or not isinstance(weight_pct, int) or not 0 <= weight_pct <= 100:
        raise StateError("state", call, f"weight_pct must be an integer 0..100, got {weight_pct!r}")
    return weight_pct


def find(spec: AppSpec, deployment: str) -> DeploymentSpec | None:
    return next((d for d in spec.deployments if d.id == deployment), None)


def _replace_deployment(spec: AppSpec, new: DeploymentSpec) -> AppSpec:
    return replace(spec, deployments=tuple(new if d.id == new.id else d for d in spec.deployments))


def _new_id(spec: AppSpec) -> str:
    numbers = [int(d.id.rsplit("-", 1)[1]) for d in spec.deployments if d.id.rsplit("-", 1)[1].isdigit()]
    return f"{spec.name}-deploy-{max(numbers, default=0) + 1}"


def _new_instances(
    spec: AppSpec, revision: str, count: int, ports: Callable[[], int]
) -> tuple[InstanceSpec, ...]:
    first = spec.next_index()  # never an index used before (AppSpec.next_index)
    return tuple(InstanceSpec(first + n, ports(), revision) for n in range(count))


def start(
    spec: AppSpec, revision: str, weight_pct: int, ports: Callable[[], int]
) -> tuple[AppSpec, DeploymentSpec]:
    call = "start_deployment"
    _weight(weight_pct, call)
    _revision(spec, revision, call)
    active = spec.active_deployment()
    if active is not None:
        if active.revision == revision:  # a retry, or a new split for the same deployment
            return set_weight(spec, active.id, weight_pct, call)
        raise DeploymentError(
            call, f"{active.id} ({active.revision}) is in progress on {spec.name}: promote or cancel it first"
        )
    if revision == spec.current:
        raise DeploymentError(call, f"{revision} is already the current revision of {spec.name}")
    live = [i for i in spec.instances if i.revision == spec.current]
    if not live:
        raise DeploymentError(call, f"{spec.name} has no instances to deploy beside: scale it up first")
    deployment = DeploymentSpec(_new_id(spec), revision, spec.current, "DEPLOYING", weight_pct)
    new = replace(
        spec.with_instances((*spec.instances, *_new_instances(spec, revision, len(live), ports))),
        deployments=(*spec.deployments, deployment),
    )
    return new, deployment


def _find(spec: AppSpec, deployment: str, call: str) -> DeploymentSpec:
    found = find(spec, deployment)
    if found is None:
        raise UnknownAppError(call, f"no deployment {deployment!r}", [d.id for d in spec.deployments])
    return found


def set_weight(
    spec: AppSpec, deployment: str, weight_pct: int, call: str = "set_deployment_weight"
) -> tuple[AppSpec, DeploymentSpec]:
    _weight(weight_pct, call)
    found = _find(spec, deployment, call)
    if not found.active:
        raise DeploymentError(call, f"{found.id} is {found.state}: only a DEPLOYING deployment has a weight")
    # a new split is taken over anew (at 100 %: once the new instances serve; see AppSpec.config_weight_of)
    updated = replace(
        found, weight_pct=weight_pct, taken_over=found.taken_over and found.weight_pct == weight_pct
    )
    return _replace_deployment(spec, updated), updated


def mark_taken_over(spec: AppSpec, deployment: str) -> AppSpec:
    """The active ``deployment`` at 100 % with its new instances serving: the old may get weight 0 on disk."""
    found = find(spec, deployment)
    if found is None or not found.active or found.weight_pct != 100 or found.taken_over:
        return spec
    return _replace_deployment(spec, replace(found, taken_over=True))


def promote(spec: AppSpec, deployment: str) -> tuple[AppSpec, DeploymentSpec]:
    call = "promote_deployment"
    found = _find(spec, deployment, call)
    if found.state == "DEPLOYED":
        return spec, found
    if not found.active:
        raise DeploymentError(call, f"{found.id} is {found.state}: start a new deployment instead")
    updated = replace(found, state="DEPLOYED", weight_pct=100)
    spec = replace(
        _replace_deployment(spec, updated).with_instances(
            tuple(i for i in spec.instances if i.revision == found.revision)
        ),
        current=found.revision,
    )
    return spec, updated


def cancel(spec: AppSpec, deployment: str, call: str = "cancel_deployment") -> tuple[AppSpec, DeploymentSpec]:
    found = _find(spec, deployment, call)
    if found.state == "CANCELED":
        return spec, found
    if not found.active:
        raise DeploymentError(
            call, f"{found.id} is {found.state}: roll back to {found.previous_revision} instead"
        )
    updated = replace(found, state="CANCELED", weight_pct=0)
    spec = _replace_deployment(spec, updated).with_instances(
        tuple(i for i in spec.instances if i.revision != found.revision)
    )
    return spec, updated


def rollback(spec: AppSpec, revision: str, ports: Callable[[], int]) -> tuple[AppSpec, DeploymentSpec]:
    """Cancel an active deployment, then replace every instance with one of ``revision``, all at once."""
    call = "rollback"
    _revision(spec, revision, call)
    active = spec.active_deployment()
    if active is not None:
        spec, _ = cancel(spec, active.id, call)
    if spec.current == revision and all(i.revision == revision for i in spec.instances):
        done = [d for d in spec.deployments if d.revision == revision and d.state == "DEPLOYED"]
        if done:  # a retry of a rollback that completed: nothing more to apply
            return spec, done[-1]
    deployment = DeploymentSpec(_new_id(spec), revision, spec.current, "DEPLOYED", 100)
    count = len(spec.instances)
    # indexes past the canceled deployment's too (AppSpec.next_index): its servers and programs are still
    # there until the reconcile removes them, and a reused name would keep the canceled release serving
    replaced = spec
    spec = replace(
        spec.with_instances(_new_instances(spec, revision, count, ports)),
        current=revision,
        deployments=(*spec.deployments, deployment),
    ).with_retiring(replaced)  # haproxy.cfg keeps the replaced ones serving until the new ones do
    return spec, deployment
