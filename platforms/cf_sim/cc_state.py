"""The simulated Cloud Controller's state over a real local platform.

Each CF app's ``web`` process is the instances of its local app (``CFApp.local_app``); during a deployment,
the instances of the deployment's revision are a second web process instead (:mod:`cc_processes`). What CC
keeps that the local platform does not (app state STARTED/STOPPED, desired instances while stopped,
``updated_at``, audit events, the CF deployments and jobs) lives here, in memory. Actions call the local
platform, which changes real processes: a restart restarts supervisord programs one at a time; scale adds and
removes instances; stop scales the local app to 0 and start back to the desired count.

:meth:`CCState.tick` is the controller loop (the runner calls it every ``tick_s``): it records
``audit.app.process.crash`` (actor: the process the instance belongs to) for instances that crashed or whose
process was replaced without an action of ours, advances deployments (a rolling one is promoted once its new
instances run; a canary one pauses) and runs pending jobs. Thread-safe: one lock around the bookkeeping;
platform calls run outside it where they block.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from platforms.cf_sim.cc_deployments import DeploymentDriver
from platforms.cf_sim.cc_jobs import run_pending
from platforms.cf_sim.cc_model import Actor, AuditEvent, CCError, Job
from platforms.cf_sim.cc_processes import SimProcess, find_process, processes_of
from platforms.cf_sim.foundation import CFApp, Foundation, guid_for
from platforms.cf_sim.proc_usage import ProcUsage, Usage
from platforms.cf_sim.sim_metrics import SimMetrics
from platforms.local import LocalPlatform
from platforms.local.adapter import MAX_INSTANCES, InstanceInfo
from platforms.local.errors import LocalPlatformError

__all__ = ["MAX_AUDIT_EVENTS", "SYSTEM_ACTOR", "CCState", "InstanceStat"]

MAX_AUDIT_EVENTS = 10_000
SYSTEM_ACTOR = Actor(guid_for("system", "cc"), "cloud_controller", "process")


@dataclass(frozen=True, slots=True)
class InstanceStat:
    """One instance of a process for ``/stats``: the local platform's view plus /proc usage."""

    index: int
    state: str
    port: int
    usage: Usage | None
    details: str | None
    disk_bytes: int = 0  # what the instance wrote to disk: its output log (the only file it writes)


class CCState:
    def __init__(
        self,
        foundation: Foundation,
        platform: LocalPlatform,
        metrics: SimMetrics,
        *,
        clock: Callable[[], float] = time.time,
        usage: ProcUsage | None = None,
    ) -> None:
        self.foundation = foundation
        self.platform = platform
        self.metrics = metrics
        self.clock = clock
        self.usage = usage or ProcUsage()
        self.booted_at = clock()
        self.lock = threading.RLock()
        self.app_state: dict[str, str] = {a.guid: "STARTED" for a in foundation.apps}
        self.desired: dict[str, int] = {}
        self.updated_at: dict[str, float] = {a.guid: self.booted_at for a in foundation.apps}
        self.audit: deque[AuditEvent] = deque(maxlen=MAX_AUDIT_EVENTS)
        self.jobs: dict[str, Job] = {}
        self.revision_seen: dict[str, float] = {}
        self._pids: dict[tuple[str, int], int | None] = {}
        self._expected: dict[tuple[str, int], int | None] = {}  # instance -> the PID an action replaces
        self.deployments = DeploymentDriver(self)
        for app in foundation.apps:
            self.desired[app.guid] = len(self.platform.instances(app.local_app))
            # the seed describes the foundation at boot: stamped with the boot time, never a second later
            boot = self.booted_at
            self.record("audit.app.create", SYSTEM_ACTOR, app, {"request": {"name": app.name}}, at=boot)
            self.record("audit.app.droplet.create", SYSTEM_ACTOR, app, {"request": {}}, at=boot)
        self._watch_crashes(record=False)

    # -- lookups ---------------------------------------------------------------------------------------------

    def app(self, guid: str) -> CFApp:
        found = self.foundation.app_by_guid(guid)
        if found is None:
            raise CCError.not_found("App")
        return found

    def process(self, guid: str) -> SimProcess:
        """The process with ``guid``: an app's own, or an active deployment's web process (cc_processes)."""
        return find_process(self, guid)

    def processes(self, app: CFApp) -> list[SimProcess]:
        return processes_of(self, app)

    def org_guid_of(self, app: CFApp) -> str:
        return guid_for("org", app.org)

    def touch(self, app: CFApp) -> None:
        with self.lock:
            self.updated_at[app.guid] = self.clock()

    # -- audit -----------------------------------------------------------------------------------------------

    def record(
        self, type_: str, actor: Actor, app: CFApp, data: dict[str, Any], *, at: float | None = None
    ) -> AuditEvent:
        event = AuditEvent(
            str(uuid.uuid4()),
            self.clock() if at is None else at,
            type_,
            actor,
            app.guid,
            "app",
            app.name,
            app.space_guid,
            self.org_guid_of(app),
            data,
        )
        with self.lock:
            self.audit.append(event)
        self.metrics.audit_events.labels(type_).inc()
        return event

    # -- reading ---------------------------------------------------------------------------------------------

    def instances(self, proc: SimProcess) -> list[InstanceInfo]:
        """``proc``'s local instances (during a deployment each web process has those of its revision)."""
        if proc.type != "web":
            return []
        try:
            found = self.platform.instances(proc.app.local_app)
        except LocalPlatformError as exc:
            raise CCError(503, 170015, "CF-RunnerUnavailable", f"Stats server unavailable: {exc}") from exc
        return [i for i in found if proc.owns(i.revision)]

    def process_instances(self, app: CFApp, ptype: str) -> int:
        if ptype != "web":
            return 0
        with self.lock:
            return self.desired[app.guid]

    def desired_instances(self, proc: SimProcess) -> int:
        """``instances`` of a process: a deployment's process has as many as the app had when it started."""
        if proc.deployment is not None:
            return proc.deployment.instances
        return self.process_instances(proc.app, proc.type)

    def stats(self, proc: SimProcess) -> list[InstanceStat]:
        stats = []
        for inst in self.instances(proc):
            state = inst.state
            details = None if state != "CRASHED" else f"APP/PROC/WEB: process {inst.process_state}"
            usage = self.usage.usage(inst.pid) if state in ("RUNNING", "STARTING", "DOWN") else None
            log = self.platform.paths.app_logs_dir / f"{inst.program}.log"
            try:
                disk = log.stat().st_size
            except OSError:
                disk = 0
            stats.append(InstanceStat(inst.index, state, inst.port, usage, details, disk))
        return stats

    def current_revision(self, app: CFApp) -> str:
        spec = self.platform.state().app(app.local_app)
        return spec.current if spec else "v1"

    # -- actions ---------------------------------------------------------------------------------------------

    def _platform_call(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except LocalPlatformError as exc:
            raise CCError.unprocessable(str(exc)) from exc

    def _expect_restart(self, app: CFApp) -> None:
        with self.lock:
            self._expected.update(
                {(app.guid, i.index): i.pid for i in self.platform.instances(app.local_app)}
            )

    def restart(self, app: CFApp, actor: Actor) -> None:
        if self.app_state[app.guid] == "STOPPED":
            self.start(app, actor)
            return
        self._expect_restart(app)
        self._platform_call(lambda: self.platform.restart_app(app.local_app))
        self.touch(app)
        self.record("audit.app.restart", actor, app, {})

    def stop(self, app: CFApp, actor: Actor) -> None:
        with self.lock:
            self.app_state[app.guid] = "STOPPED"
        self._expect_restart(app)
        self._platform_call(lambda: self.platform.scale(app.local_app, 0))
        self.touch(app)
        self.record("audit.app.stop", actor, app, {"request": {"state": "STOPPED"}})

    def start(self, app: CFApp, actor: Actor) -> None:
        with self.lock:
            self.app_state[app.guid] = "STARTED"
            wanted = self.desired[app.guid]
        self._platform_call(lambda: self.platform.scale(app.local_app, wanted))
        self.touch(app)
        self.record("audit.app.start", actor, app, {"request": {"state": "STARTED"}})

    def scale(self, app: CFApp, ptype: str, instances: int, actor: Actor) -> None:
        if ptype != "web":
            raise CCError.unprocessable(f"the simulator runs only web processes, not {ptype}")
        if not 0 <= instances <= MAX_INSTANCES:
            raise CCError.unprocessable(f"Instances must be between 0 and {MAX_INSTANCES}")
        if self.app_state[app.guid] == "STARTED":
            self._platform_call(lambda: self.platform.scale(app.local_app, instances))
        with self.lock:
            self.desired[app.guid] = instances
        self.touch(app)
        self.record(
            "audit.app.process.scale",
            actor,
            app,
            {
                "process_guid": app.process_guid(ptype),
                "process_type": ptype,
                "request": {"instances": instances},
            },
        )

    def kill_instance(self, proc: SimProcess, index: int, actor: Actor) -> None:
        """``DELETE /v3/processes/:guid/instances/:index``: the instance restarts (Diego replaces it)."""
        app, ptype = proc.app, proc.type
        pid = next((i.pid for i in self.instances(proc) if i.index == index), -1)
        if pid == -1:
            raise CCError.not_found("Instance")
        with self.lock:
            self._expected[(app.guid, index)] = pid
        self._platform_call(lambda: self.platform.restart_instance(app.local_app, index, wait=False))
        self.record(
            "audit.app.process.terminate_instance",
            actor,
            app,
            {"process_guid": proc.guid, "process_type": ptype, "process_index": index},
        )

    # -- controller loop -------------------------------------------------------------------------------------

    def tick(self) -> None:
        """One pass of the controller loop (see the module doc). Survives a platform that cannot be asked."""
        try:
            self._watch_crashes(record=True)
            self.deployments.advance()
        except (LocalPlatformError, CCError):
            return
        run_pending(self)

    def _watch_crashes(self, *, record: bool) -> None:
        for app in self.foundation.apps:
            for inst in self.platform.instances(app.local_app):
                key = (app.guid, inst.index)
                with self.lock:
                    before = self._pids.get(key, inst.pid)
                    self._pids[key] = inst.pid if inst.state != "CRASHED" else None
                    expected = key in self._expected and self._expected[key] == before
                    if inst.pid != before and inst.state == "RUNNING":
                        self._expected.pop(key, None)
                replaced = before is not None and inst.pid is not None and inst.pid != before
                crashed = inst.state == "CRASHED" and before is not None
                if record and not expected and (replaced or crashed):
                    self.record(
                        "audit.app.process.crash",
                        Actor(self._owner(app, inst.revision), "web", "process"),  # CF's actor: the process
                        app,
                        {
                            "index": inst.index,
                            "reason": "CRASHED",
                            "exit_description": f"APP/PROC/WEB: process {inst.process_state}",
                            "instance": guid_for("instance", app.guid, str(inst.index), str(before)),
                        },
                    )

    def _owner(self, app: CFApp, revision: str) -> str:
        """The GUID of the web process whose instance runs ``revision`` (a deployment's, during one)."""
        owners = (p.guid for p in self.processes(app) if p.type == "web" and p.owns(revision))
        return next(owners, app.process_guid("web"))
