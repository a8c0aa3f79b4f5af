"""CF deployments (``rolling``, ``canary``) mapped onto the local platform's blue-green deployments.

A CF deployment creates a new revision of the app (the deployed one's sample-app version and env, or those of
the revision asked for: CF's rollback) and starts a local deployment of it beside the current instances:

* ``rolling``: the new instances get half the traffic while they start; once all of them run, the driver
  promotes (old instances leave the router, then stop): no downtime. ACTIVE/DEPLOYING -> FINALIZED/DEPLOYED.
* ``canary``: traffic weight ``options.canary.steps[n].instance_weight`` (percent; one step of
  1 % when no steps are given); ACTIVE/DEPLOYING -> ACTIVE/PAUSED; ``continue`` moves to the next step
  (PAUSED again) and after the
  last one promotes: FINALIZED/DEPLOYED.
* ``cancel``: the local deployment is canceled (new instances leave): FINALIZED/CANCELED. A new deployment of
  the same app supersedes an active one: FINALIZED/SUPERSEDED.

While ACTIVE, the deployment's new instances are a second ``web`` process (``new_processes``), as on CF; see
:mod:`platforms.cf_sim.cc_processes`.
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any

from platforms.base import Deployment
from platforms.cf_sim.cc_model import Actor, CCError, SimDeployment
from platforms.cf_sim.cc_processes import deployment_process_guid
from platforms.cf_sim.foundation import CFApp, guid_for
from platforms.local.errors import DeploymentError, LocalPlatformError

if TYPE_CHECKING:
    from platforms.cf_sim.cc_state import CCState

__all__ = ["DeploymentDriver", "droplet_guid", "revision_guid"]

ROLLING_WEIGHT_PCT = 50
MAX_CANARY_STEPS = 10


def revision_guid(app: CFApp, local_revision: str) -> str:
    return guid_for("revision", app.guid, local_revision)


def droplet_guid(app: CFApp, local_revision: str) -> str:
    return guid_for("droplet", app.guid, local_revision)


def parse_steps(options: Any) -> list[int]:
    """``options.canary.steps[].instance_weight`` as percentages (validated)."""
    canary = options.get("canary") if isinstance(options, dict) else None
    steps = canary.get("steps") if isinstance(canary, dict) else None
    if steps is None:
        return [1]
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_CANARY_STEPS:
        raise CCError.unprocessable(f"Canary steps must be a list of 1 to {MAX_CANARY_STEPS} steps")
    weights = []
    for step in steps:
        weight = step.get("instance_weight") if isinstance(step, dict) else None
        if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 100:
            raise CCError.unprocessable("Canary steps Instance weight must be an integer between 1 and 100")
        weights.append(weight)
    if weights != sorted(weights):
        raise CCError.unprocessable("Canary steps Instance weights must be sorted in ascending order")
    return weights


class DeploymentDriver:
    """Owns the CF deployments of one :class:`CCState`; ``advance`` is called by its controller loop."""

    def __init__(self, state: CCState) -> None:
        self._state = state
        self._lock = threading.RLock()
        self.all: dict[str, SimDeployment] = {}
        self._stepping: set[str] = set()  # guids whose canary step is being applied (outside the lock)

    def get(self, guid: str) -> SimDeployment:
        found = self.all.get(guid)
        if found is None:
            raise CCError.not_found("Deployment")
        return found

    def active_for(self, app_guid: str, local_id: str) -> SimDeployment | None:
        """The ACTIVE deployment of the app running as local deployment ``local_id``, if any."""
        found = (d for d in list(self.all.values()) if d.app_guid == app_guid and d.local_id == local_id)
        return next((d for d in found if d.value == "ACTIVE"), None)

    def create(
        self, app: CFApp, strategy: str, steps: list[int], revision: str | None, actor: Actor
    ) -> SimDeployment:
        state = self._state
        if state.app_state[app.guid] != "STARTED":
            raise CCError.unprocessable("Cannot create deployment for a STOPPED app.")
        with self._lock:
            for old in self.all.values():
                if old.app_guid == app.guid and old.value == "ACTIVE":
                    self._finish(old, "SUPERSEDED", cancel=True)
            spec = state.platform.state().app(app.local_app)
            if spec is None:
                raise CCError.not_found("App")
            source = spec.revision(spec.current)
            if revision is not None:
                source = next((r for r in spec.revisions if revision_guid(app, r.id) == revision), None)
                if source is None:
                    raise CCError.unprocessable("The revision does not exist")
            if source is None:  # only with a hand-edited state file: the current revision always exists
                raise CCError.unprocessable(f"{app.name} has no current revision")
            guid = str(uuid.uuid4())
            env = {**dict(source.env), "CF_DEPLOYMENT_GUID": guid}
            try:
                new = state.platform.create_revision(app.local_app, source.app_version, env=env)
                weight = ROLLING_WEIGHT_PCT if strategy == "rolling" else steps[0]
                try:
                    local = state.platform.start_deployment(app.local_app, new.id, weight)
                except DeploymentError:
                    started = self._started(app, new.id)
                    if started is None:
                        raise
                    local = started
            except LocalPlatformError as exc:
                raise CCError.unprocessable(str(exc)) from exc
            now = state.clock()
            state.revision_seen.setdefault(new.id, now)
            deployment = SimDeployment(
                guid,
                app.guid,
                local.id,
                strategy,
                steps if strategy == "canary" else [],
                revision_guid(app, new.id),
                new.version,
                droplet_guid(app, new.id),
                droplet_guid(app, spec.current),
                deployment_process_guid(app, guid),
                state.desired[app.guid],
                now,
                now,
            )
            self.all[guid] = deployment
        state.touch(app)
        state.record(
            "audit.app.deployment.create", actor, app, {"deployment_guid": guid, "strategy": strategy}
        )
        return deployment

    def _started(self, app: CFApp, revision: str) -> Deployment | None:
        """The local deployment of ``revision`` if it is active although ``start_deployment`` raised: saved
        at a weight of 100 % whose new instances did not serve in time (the old keep their weight). It is
        ACTIVE/DEPLOYING here as on CF, so it can be canceled or continued; a 422 would orphan it."""
        spec = self._state.platform.state().app(app.local_app)
        active = spec.active_deployment() if spec is not None else None
        if active is None or active.revision != revision:
            return None
        return self._state.platform.deployment(active.id)

    def _finish(self, deployment: SimDeployment, reason: str, *, cancel: bool) -> None:
        platform = self._state.platform
        try:
            if cancel:
                platform.cancel_deployment(deployment.local_id)
            else:
                platform.promote_deployment(deployment.local_id)
        except LocalPlatformError as exc:
            raise CCError.unprocessable(str(exc)) from exc
        deployment.value, deployment.reason = "FINALIZED", reason
        deployment.updated_at = self._state.clock()

    def cancel(self, guid: str, actor: Actor) -> SimDeployment:
        with self._lock:
            deployment = self.get(guid)
            if deployment.value != "ACTIVE":
                raise CCError.unprocessable("Cannot cancel a deployment that is not ACTIVE")
            self._finish(deployment, "CANCELED", cancel=True)
        app = self._state.app(deployment.app_guid)
        self._state.touch(app)
        self._state.record("audit.app.deployment.cancel", actor, app, {"deployment_guid": guid})
        return deployment

    def proceed(self, guid: str, actor: Actor) -> SimDeployment:
        """``actions/continue``: the next canary step, or promotion after the last."""
        weight = None
        with self._lock:
            deployment = self.get(guid)
            if deployment.value != "ACTIVE" or deployment.reason != "PAUSED":
                raise CCError.unprocessable("Cannot continue a deployment with status: " + deployment.reason)
            if guid in self._stepping:
                raise CCError.unprocessable(
                    "Cannot continue a deployment while its last step is being applied"
                )
            if deployment.step < len(deployment.steps):
                deployment.step += 1
                weight = deployment.steps[deployment.step - 1]
                self._stepping.add(guid)
            else:
                self._finish(deployment, "DEPLOYED", cancel=False)
        if weight is not None:
            # at 100 % this waits for the new instances (up to the platform's replace_wait_s): not under the
            # driver's lock, so other deployments (create, cancel, the controller's advance) go on meanwhile
            try:
                self._state.platform.set_deployment_weight(deployment.local_id, weight)
            except LocalPlatformError as exc:
                with self._lock:  # not applied: the next continue retries this step, it does not skip it
                    deployment.step -= 1
                raise CCError.unprocessable(str(exc)) from exc
            finally:
                with self._lock:
                    self._stepping.discard(guid)
            with self._lock:
                deployment.updated_at = self._state.clock()
        app = self._state.app(deployment.app_guid)
        self._state.touch(app)
        self._state.record("audit.app.deployment.continue", actor, app, {"deployment_guid": guid})
        return deployment

    def advance(self) -> None:
        """Promote rolling deployments whose new instances all run; pause canary ones at their step."""
        with self._lock:
            for deployment in self.all.values():
                if deployment.value != "ACTIVE":
                    continue
                local = self._state.platform.deployment(deployment.local_id)
                if local.state != "PAUSED":
                    continue
                if deployment.strategy == "rolling":
                    self._finish(deployment, "DEPLOYED", cancel=False)
                    self._state.touch(self._state.app(deployment.app_guid))
                elif deployment.reason == "DEPLOYING":
                    deployment.reason = "PAUSED"
                    deployment.updated_at = self._state.clock()
