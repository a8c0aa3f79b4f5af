"""``LocalPlatform``: the platform adapter for the local HAProxy + supervisord + node exporter platform.

Everything is learned live on each call from the state directory (desired state, written atomically), from
supervisord (process state, PID) and from HAProxy's runtime API (router status), so scaling adds and removes
targets without a config edit. Actions (``scale``, ``restart_instance``, ``restart_app``) take the state lock,
persist the desired state first, then reconcile supervisord and HAProxy to it — idempotently, so a retried
action completes a half-done one. Safe to call from any thread and from several processes at once.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import prometheus_client
from prometheus_client import CollectorRegistry

from platforms.base import DiscoveredTarget
from platforms.local._files import write_platform_files
from platforms.local._metrics import platform_metrics
from platforms.local.errors import RouterError, StateError, UnknownAppError
from platforms.local.haproxy_config import HEALTH_CHECK, server_address, server_name
from platforms.local.haproxy_runtime import HAProxyRuntime, ServerStatus
from platforms.local.state import AppSpec, InstanceSpec, PlatformState, StateDir, free_port
from platforms.local.supervisor_client import ProcessInfo, SupervisorClient
from platforms.local.supervisor_config import program_name

__all__ = ["MAX_INSTANCES", "InstanceInfo", "LocalPlatform"]

MAX_INSTANCES = 32
CELL = "cell-0"


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """One app instance as the platform sees it now."""

    app: str
    index: int
    port: int
    program: str
    process_state: str  # supervisord's statename: RUNNING, STARTING, BACKOFF, EXITED, FATAL, ... or ABSENT
    pid: int | None
    router_status: str  # HAProxy's server status: UP, DOWN, MAINT, ... or "unknown" / "absent"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class LocalPlatform:
    """Adapter for a local platform whose state directory is ``state_dir`` (see platforms.local.state)."""

    name = "local"

    def __init__(
        self,
        state_dir: Path,
        *,
        python: str = sys.executable,
        timeout_s: float = 5.0,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
    ) -> None:
        self.paths = StateDir(state_dir)
        self._python = python
        self._metrics = platform_metrics(registry)
        self.supervisor = SupervisorClient(self.paths, self._metrics)
        self.router = HAProxyRuntime(self.paths.haproxy_sock, self._metrics, timeout_s)

    # -- reading ---------------------------------------------------------------------------------------------

    def state(self) -> PlatformState:
        return self.paths.load()

    def apps(self) -> list[str]:
        return [a.name for a in self.state().apps]

    def _app(self, state: PlatformState, app: str, call: str) -> AppSpec:
        spec = state.app(app)
        if spec is None:
            raise UnknownAppError(call, f"no app named {app!r}", [a.name for a in state.apps])
        return spec

    def _router_servers(self) -> dict[tuple[str, str], ServerStatus] | None:
        try:
            return {(s.backend, s.server): s for s in self.router.servers()}
        except RouterError:
            return None  # the router's own target reports it down; instances are still discoverable

    def _info(
        self,
        app: str,
        inst: InstanceSpec,
        procs: dict[str, ProcessInfo],
        servers: dict[tuple[str, str], ServerStatus] | None,
    ) -> InstanceInfo:
        name = program_name(app, inst.index)
        proc = procs.get(name)
        if servers is None:
            router_status = "unknown"
        else:
            server = servers.get((app, server_name(app, inst.index)))
            router_status = server.status if server else "absent"
        pid = int(proc["pid"]) if proc and proc.get("pid") else None
        state = str(proc["statename"]) if proc else "ABSENT"
        return InstanceInfo(app, inst.index, inst.port, name, state, pid, router_status)

    def instances(self, app: str) -> list[InstanceInfo]:
        """Every desired instance of ``app`` with its live process and router state."""
        spec = self._app(self.state(), app, "instances")
        procs = {p["name"]: p for p in self.supervisor.processes()}
        servers = self._router_servers()
        return [self._info(app, i, procs, servers) for i in spec.instances]

    def discover(self) -> list[DiscoveredTarget]:
        """Router (job=router), node exporter (job=node) and every app instance (job=app)."""
        state = self.state()
        procs = {p["name"]: p for p in self.supervisor.processes()}
        servers = self._router_servers()
        targets = [
            DiscoveredTarget(
                f"http://127.0.0.1:{state.stats_port}/metrics",
                {"job": "router", "__meta_local_component": "haproxy"},
            ),
            DiscoveredTarget(
                f"http://127.0.0.1:{state.node_exporter_port}/metrics",
                {"job": "node", "__meta_local_component": "node-exporter", "__meta_local_cell": CELL},
            ),
        ]
        for app in state.apps:
            for inst in app.instances:
                info = self._info(app.name, inst, procs, servers)
                targets.append(
                    DiscoveredTarget(
                        f"{info.url}/metrics",
                        {
                            "job": "app",
                            "app": app.name,
                            "app_instance": str(inst.index),
                            "__meta_local_component": "app",
                            "__meta_local_cell": CELL,
                            "__meta_local_program": info.program,
                            "__meta_local_process_state": info.process_state,
                            "__meta_local_pid": "" if info.pid is None else str(info.pid),
                            "__meta_local_port": str(inst.port),
                            "__meta_local_router_status": info.router_status,
                        },
                    )
                )
        for job in ("router", "node", "app"):
            self._metrics.targets.labels("local", job).set(sum(t.labels["job"] == job for t in targets))
        return targets

    # -- actions ---------------------------------------------------------------------------------------------

    def scale(self, app: str, instances: int) -> list[InstanceInfo]:
        """Give ``app`` ``instances`` instances: new ones get the next indexes, removal takes the highest.

        Returns once supervisord has the programs and HAProxy the servers; new instances are RUNNING a second
        later and UP in HAProxy after their first passing health check (poll ``instances``).
        """
        if not 0 <= instances <= MAX_INSTANCES:
            raise StateError("state", "scale", f"instances must be 0..{MAX_INSTANCES}, got {instances}")
        with self.paths.locked():
            state = self.state()
            spec = self._app(state, app, "scale")
            kept = list(spec.instances[:instances])
            next_index = max((i.index for i in spec.instances), default=-1) + 1
            while len(kept) < instances:
                kept.append(InstanceSpec(next_index, free_port()))
                next_index += 1
            state = state.with_app(AppSpec(app, tuple(kept)))
            self.paths.save(state)
            write_platform_files(self.paths, state, self._python)
            self._reconcile(state)
        return self.instances(app)

    def _reconcile(self, state: PlatformState) -> None:
        """Bring HAProxy and supervisord to ``state`` (files already written): remove extras, add missing."""
        wanted = {(app.name, program_name(app.name, i.index)): i for app in state.apps for i in app.instances}
        servers = {
            (s.backend, s.server) for s in self.router.servers() if s.backend in {a.name for a in state.apps}
        }
        for backend, server in sorted(servers - set(wanted)):
            self.router.del_server(backend, server)  # before the process stops: no request reaches it
        groups = {str(p["group"]) for p in self.supervisor.processes()}
        for group in sorted(groups - {name for _, name in wanted}):
            self.supervisor.remove_program(group)
        self.supervisor.add_programs()
        for (backend, server), inst in sorted(wanted.items()):
            if (backend, server) not in servers:
                self.router.add_server(backend, server, server_address(inst.port), HEALTH_CHECK)

    def restart_instance(self, app: str, index: int, wait: bool = True) -> InstanceInfo:
        """Stop and start one instance through supervisord (also a hung one: SIGTERM, then SIGKILL)."""
        spec = self._app(self.state(), app, "restart_instance")
        if spec.instance(index) is None:
            valid = [str(i.index) for i in spec.instances]
            raise UnknownAppError("restart_instance", f"{app} has no instance {index}", valid)
        name = program_name(app, index)
        self.supervisor.stop(name)
        self.supervisor.start(name, wait)
        return next(i for i in self.instances(app) if i.index == index)

    def restart_app(self, app: str, wait: bool = True) -> list[InstanceInfo]:
        """Rolling restart: one instance at a time, each RUNNING again before the next stops."""
        spec = self._app(self.state(), app, "restart_app")
        for inst in spec.instances:
            self.restart_instance(app, inst.index, wait)
        return self.instances(app)
