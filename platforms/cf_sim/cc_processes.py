"""The processes the simulated CC reports for an app right now, including a deployment's second web process.

On Cloud Foundry a rolling or canary deployment creates a SECOND ``web`` process (its own GUID,
``relationships.revision`` = the deployment's revision) listed beside the original while the deployment is
ACTIVE and named by the deployment's ``new_processes``; DEPLOYED makes it the app's web process, CANCELED
removes it. The simulation maps that onto the local platform's blue-green deployment, whose new instances run
beside the old ones in the same local app:

* the original web process (GUID ``CFApp.process_guid("web")``) owns the local instances NOT of the active
  deployment's revision and reports the app's current revision;
* the deployment's process (GUID :func:`deployment_process_guid`, stable for the deployment) owns the
  instances of the deployment's revision and reports that revision.

Deviations from CF, on purpose: stats ``index`` is the LOCAL instance index for both processes (CF indexes the
new process's instances from 0; the simulation keeps the router's ``instance_id`` so per-instance gorouter
and Log Cache series match ``/stats``); after DEPLOYED the app's web process keeps its stable GUID
``CFApp.process_guid("web")`` (CF keeps the new process's GUID), so the deployment's ``new_processes`` GUID
is not found any more once the deployment is FINALIZED.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from platforms.cf_sim.cc_model import CCError, SimDeployment
from platforms.cf_sim.foundation import CFApp, guid_for

if TYPE_CHECKING:
    from platforms.cf_sim.cc_state import CCState

__all__ = ["SimProcess", "deployment_process_guid", "find_process", "processes_of"]


def deployment_process_guid(app: CFApp, deployment_guid: str) -> str:
    """The GUID of the ``web`` process a deployment of ``app`` creates (stable for the deployment)."""
    return guid_for("process", app.org, app.space, app.name, "web", deployment_guid)


@dataclass(frozen=True, slots=True)
class SimProcess:
    """One CC process: ``revision`` is the LOCAL revision id it reports; ``deployment`` is set on a
    deployment's new process; ``beside`` on the original web process while a deployment runs (the revision
    whose instances belong to the deployment's process, not to this one)."""

    app: CFApp
    type: str
    guid: str
    revision: str
    deployment: SimDeployment | None = None
    beside: str | None = None

    def owns(self, instance_revision: str) -> bool:
        """Whether a local instance running ``instance_revision`` is one of this process's instances."""
        if self.deployment is not None:
            return instance_revision == self.revision
        return instance_revision != self.beside


def processes_of(state: CCState, app: CFApp) -> list[SimProcess]:
    """The app's processes: one per process type, plus the active deployment's web process (listed last, as
    CF lists it after the original)."""
    spec = state.platform.state().app(app.local_app)
    current = spec.current if spec else "v1"
    active = spec.active_deployment() if spec else None
    deployment = None if active is None else state.deployments.active_for(app.guid, active.id)
    beside = None if active is None or deployment is None else active.revision
    found = [
        SimProcess(app, ptype, app.process_guid(ptype), current, beside=beside if ptype == "web" else None)
        for ptype in app.process_types
    ]
    if active is not None and deployment is not None:
        found.append(SimProcess(app, "web", deployment.process_guid, active.revision, deployment))
    return found


def find_process(state: CCState, guid: str) -> SimProcess:
    """The process with ``guid`` among every app's processes now (404 as CF answers otherwise)."""
    for app in state.foundation.apps:
        for ptype in app.process_types:
            if app.process_guid(ptype) == guid:
                return next(p for p in processes_of(state, app) if p.guid == guid)
    for deployment in list(state.deployments.all.values()):
        if deployment.process_guid == guid and deployment.value == "ACTIVE":
            app = state.app(deployment.app_guid)
            found = next((p for p in processes_of(state, app) if p.guid == guid), None)
            if found is not None:
                return found
    raise CCError.not_found("Process")
