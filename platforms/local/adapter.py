"""``LocalPlatform``: the platform adapter for the local HAProxy + supervisord + node exporter platform.

Everything is learned live on each call from the state directory (desired state, written atomically), from
supervisord (process state, PID) and from HAProxy's runtime API (router status, weight), so scaling adds and
removes targets without a config edit. Actions (``scale``, restarts, revisions, blue-green deployments,
``rollback``) take the state lock, persist the desired state first, then reconcile supervisord and HAProxy to
it — idempotently, so a retried action completes a half-done one. Waiting for new instances to serve (a
deployment at 100 %, a rollback) happens with the lock released; the end of the reconcile then applies the
state as it is by then (a call whose deployment was canceled or followed by another meanwhile raises
:class:`DeploymentError`, "superseded"), and a rollback's replaced servers stay in the router and in
``haproxy.cfg`` until its new ones serve. A restart's drain is a mark in the state file, so a reconcile in
any process leaves the drained server alone. Safe to call from any thread and from several processes at
once. Implements :class:`platforms.base.Platform` and :class:`platforms.base.Remediable`, and
:class:`platforms.base.TenantResolver` from ``platform.spaces`` (app targets then carry ``org`` and
``space``).

Instance states (``app_instances``), CC-style from supervisord's process state and HAProxy's server status:
RUNNING (process RUNNING and server UP), STARTING (process STARTING, or RUNNING while the router has not yet
checked it: HAProxy counts a server it just added UP), CRASHED (EXITED, FATAL, BACKOFF),
STOPPING, DOWN (process RUNNING but the router does not have it UP — a hung instance fails its health check —
or the router cannot be asked; also a stopped or not yet added process). New servers and restarted
instances enter the router forced DOWN and get traffic only after a passing health check (meanwhile a
new one is STARTING, ``check_status`` INI, and a restarted one DOWN). A deployment is DEPLOYING until every
new instance is RUNNING, then PAUSED at its weight until promoted (DEPLOYED) or canceled (CANCELED).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import prometheus_client
from prometheus_client import CollectorRegistry

from platforms.base import Deployment, DiscoveredTarget, Instance, PlatformEvent, Revision
from platforms.local import _deploy
from platforms.local._files import write_platform_files
from platforms.local._metrics import platform_metrics
from platforms.local.errors import (
    ComponentStartError,
    DeploymentError,
    LocalPlatformError,
    RouterError,
    RouterUnavailableError,
    StateError,
    UnknownAppError,
)
from platforms.local.events import EventJournal, local_events
from platforms.local.haproxy_config import HEALTH_CHECK, server_address, server_name
from platforms.local.haproxy_runtime import HAProxyRuntime, ServerStatus
from platforms.local.state import (
    DEFAULT_WEIGHT,
    AppSpec,
    DeploymentSpec,
    InstanceSpec,
    PlatformState,
    StateDir,
    free_port,
)
from platforms.local.supervisor_client import ProcessInfo, SupervisorClient
from platforms.local.supervisor_config import program_name
from platforms.tenancy import ORG_LABEL, SPACE_LABEL

__all__ = ["MAX_INSTANCES", "RESTART_MARK_S", "InstanceInfo", "LocalPlatform", "cc_state"]

MAX_INSTANCES = 32
# how long a restart's drain mark (AppSpec.restarting) holds at most: drain (5 s), stop (stopwaitsecs 5 s,
# then SIGKILL) and start, with room; a restart that crashed leaves a mark other reconciles ignore after it
RESTART_MARK_S = 60.0
CELL = "cell-0"
log = logging.getLogger("platforms.local.adapter")


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
    revision: str = "v1"
    weight: int | None = None  # HAProxy's weight now; None when the router cannot be asked or lacks it
    check_status: str = ""  # HAProxy's last health check: L7OK, L4CON, ... INI (none yet; "* ": one running)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> str:
        return cc_state(self.process_state, self.router_status, self.check_status)


_CRASHED = {"EXITED", "FATAL", "BACKOFF"}


def cc_state(process_state: str, router_status: str, check_status: str = "") -> str:
    """CC-style instance state from supervisord's statename and HAProxy's server status (see module doc).

    A server HAProxy has just added is "UP 1/2" before its first health check (``check_status`` INI) and
    gets traffic, listening or not: until that check passes the instance is STARTING, so a deployment is
    not PAUSED (and a rolling one not promoted, its old instances gone) before its new ones answer."""
    if process_state == "RUNNING" and check_status.lstrip("* ").startswith("INI"):
        return "STARTING"
    if process_state == "RUNNING":
        return "RUNNING" if router_status.startswith("UP") else "DOWN"  # "UP 1/2": one failed check so far
    if process_state == "STARTING":
        return "STARTING"
    if process_state in _CRASHED:
        return "CRASHED"
    if process_state == "STOPPING":
        return "STOPPING"
    return "DOWN"  # STOPPED, UNKNOWN, ABSENT


def _pending_take_over(state: PlatformState) -> dict[str, set[tuple[str, str]]]:
    """app -> its new servers, for each deployment at 100 % not yet ``taken_over``."""
    return {
        a.name: {(a.name, server_name(a.name, i.index)) for i in a.instances if i.revision == d.revision}
        for a in state.apps
        if (d := a.active_deployment()) is not None and d.weight_pct == 100 and not d.taken_over
    }


def _own_extras_go(
    state: PlatformState,
    acting: str,
    weighted: set[tuple[str, str]],
    waited: set[tuple[str, str]] | None,
) -> bool:
    """Whether ``acting``'s extra servers leave whether or not its wanted (``weighted``) ones serve: after a
    wait for the very servers they wait for (a release that never comes up must not block its own rollback),
    or with nothing waited for and no rollback of ``acting``'s in progress (its replaced servers still
    ``retiring``: a scale-in during that rollback's wait must not remove them). Otherwise they leave, like
    another app's, once the wanted ones serve."""
    if waited is not None:
        return {w for w in weighted if w[0] == acting} <= waited
    spec = state.app(acting)
    return spec is None or not spec.retiring


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
        replace_wait_s: float = 15.0,
        tenants: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        """``replace_wait_s``: how long a rollback waits for its new instances before removing the old;
        ``tenants``: app -> (org, space) (``platform.spaces``; apps not in it belong to no space)."""
        self.paths = StateDir(state_dir)
        self._tenants = dict(tenants or {})
        self._python = python
        self.replace_wait_s = replace_wait_s
        self._metrics = platform_metrics(registry)
        self.supervisor = SupervisorClient(self.paths, self._metrics)
        self.router = HAProxyRuntime(self.paths.haproxy_sock, self._metrics, timeout_s)
        self.journal = EventJournal(self.paths.root / "events.jsonl")  # what the write verbs did, when

    # -- reading ---------------------------------------------------------------------------------------------

    def state(self) -> PlatformState:
        return self.paths.load()

    def apps(self) -> list[str]:
        return [a.name for a in self.state().apps]

    def tenant_of(self, app: str) -> tuple[str, str] | None:
        """:class:`platforms.base.TenantResolver`: (org, space) of ``app`` from the config (no I/O)."""
        return self._tenants.get(app)

    def _tenant_labels(self, app: str) -> dict[str, str]:
        tenant = self._tenants.get(app)
        return {} if tenant is None else {ORG_LABEL: tenant[0], SPACE_LABEL: tenant[1]}

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
        weight = None
        check_status = ""
        if servers is None:
            router_status = "unknown"
        else:
            server = servers.get((app, server_name(app, inst.index)))
            router_status = server.status if server else "absent"
            weight = server.weight if server else None
            check_status = server.check_status if server else ""
        pid = int(proc["pid"]) if proc and proc.get("pid") else None
        state = str(proc["statename"]) if proc else "ABSENT"
        return InstanceInfo(
            app, inst.index, inst.port, name, state, pid, router_status, inst.revision, weight, check_status
        )

    def instances(self, app: str) -> list[InstanceInfo]:
        """Every desired instance of ``app`` with its live process and router state."""
        spec = self._app(self.state(), app, "instances")
        procs = {p["name"]: p for p in self.supervisor.processes()}
        servers = self._router_servers()
        return [self._info(app, i, procs, servers) for i in spec.instances]

    def discover(self) -> list[DiscoveredTarget]:
        """Router (job=router), node exporter (job=node) and every app instance (job=app, with the
        ``revision`` it runs as a target label: blue-green gates compare revisions by it, and ``org`` and
        ``space`` when the app is in one of ``platform.spaces``)."""
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
                            "revision": inst.revision,
                            **self._tenant_labels(app.name),
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
        """Give ``app`` ``instances`` instances: new ones get indexes never used before, removal takes the
        highest.

        Returns once supervisord has the programs and HAProxy the servers; new instances are RUNNING a second
        later and UP in HAProxy after their first passing health check (poll ``instances``).
        """
        with self._action("scale"):
            if not 0 <= instances <= MAX_INSTANCES:
                raise StateError("state", "scale", f"instances must be 0..{MAX_INSTANCES}, got {instances}")
            with self.paths.locked():
                state = self.state()
                spec = self._app(state, app, "scale")
                active = spec.active_deployment()
                if active is not None:
                    raise DeploymentError(
                        "scale", f"{active.id} is in progress on {app}: promote or cancel it first"
                    )
                kept = list(spec.instances[:instances])
                next_index = spec.next_index()
                while len(kept) < instances:
                    kept.append(InstanceSpec(next_index, free_port(), spec.current))
                    next_index += 1
                waits = self._apply(state.with_app(spec.with_instances(tuple(kept))), app)
            self._settle(app, waits)
            self.journal.add(
                app, "scale", "local.app.scale", f"{instances} instances", {"instances": str(instances)}
            )
            return self.instances(app)

    def _apply(self, state: PlatformState, app: str) -> set[tuple[str, str]]:
        """Persist ``state``, regenerate every file from it and reconcile the running components (locked);
        ``app`` is the one the action changed (see :meth:`_reconcile`). Returns the servers to wait for
        before the reconcile can end: pass them to :meth:`_settle` once the lock is released."""
        self.paths.save(state)
        write_platform_files(self.paths, state, self._python)
        return self._reconcile(state, app)

    def _settle(self, app: str, waits: set[tuple[str, str]]) -> None:
        """End a reconcile that had servers to wait for: wait for them (up to ``replace_wait_s``) without the
        state lock, so other writers (another app's action, a restart, another process) are not held up, then
        retake it and reconcile the state *as it is now*: a change made meanwhile (a cancel, a new weight,
        another rollback) wins, and what the wait was for is re-checked, not assumed."""
        if not waits:
            return
        self._wait_serving(waits)
        with self.paths.locked():
            self._reconcile(self.state(), app, waited=waits)

    @contextlib.contextmanager
    def _action(self, action: str) -> Iterator[None]:
        started = time.monotonic()
        result = "ok"
        try:
            yield
        except LocalPlatformError as exc:
            result = "error"
            self._metrics.adapter.failed(type(exc).__name__)
            raise
        finally:
            self._metrics.action_seconds.labels("local", action).observe(time.monotonic() - started)
            self._metrics.actions.labels("local", action, result).inc()

    def _reconcile(
        self, state: PlatformState, acting: str, waited: set[tuple[str, str]] | None = None
    ) -> set[tuple[str, str]]:
        """Bring supervisord and HAProxy to ``state`` (files already written; called under the state lock),
        never leaving the router without a checked server to send a request to. First start missing programs
        and add missing servers (DOWN until their first passing health check:
        :meth:`HAProxyRuntime.add_server`) and set the weight of existing ones (an unchecked one at weight 0,
        e.g. from a restarted HAProxy's config, is forced DOWN first; one in maintenance is re-enabled unless
        a restart, in any process, holds it drained: ``AppSpec.restarting``).

        An existing server's weight going to 0 (a deployment at 100 %) needs every server of its backend
        with a weight serving (RUNNING and UP after a check): the old instances would otherwise stop taking
        traffic before the new ones can. Removing ``acting``'s extra servers (a rollback replacing every
        instance) waits for the ones it added. The first pass (``waited`` None), with something of
        ``acting``'s to wait for, returns those servers at that point, the rest undone: the caller waits for
        them *without* the lock (:meth:`_settle`) and then calls this again with ``waited`` (what it waited
        for) on the state as it is then. In that final pass old servers whose new ones do not serve keep their
        weight (for ``acting``: journaled, :class:`DeploymentError`; the desired state is saved, so a retry, a
        cancel or a later action completes it), and ``acting``'s extra servers go anyway *if* the servers
        they wait for are the ones this caller waited for (a release that never comes up must not block its
        own rollback; those at weight 0 got weight 1 meanwhile, to serve and to retry on). Otherwise (the
        state changed during the wait: another caller's rollback waits for its own new servers; or a first
        pass with nothing to wait for while a rollback of ``acting`` is in progress) they are treated as
        another app's: extra servers go only once their app's wanted ones serve. Extra servers
        leave the router before their processes stop. A deployment at 100 % whose new servers serve is
        marked ``taken_over``, and a rollback whose replaced servers left the router drops them from
        ``retiring`` (state and config)."""
        wanted = {
            (app.name, program_name(app.name, i.index)): (app, i) for app in state.apps for i in app.instances
        }
        apps = {a.name for a in state.apps}
        servers = {(s.backend, s.server): s for s in self.router.servers() if s.backend in apps}
        now = time.time()
        drained = {  # (a mark further off than RESTART_MARK_S: the clock went back; ignored)
            (a.name, server_name(a.name, i))
            for a in state.apps
            for i in a.restarting_now(now, RESTART_MARK_S)
        }
        self.supervisor.add_programs()
        added = set()
        to_zero = []
        for (backend, server), (app, inst) in sorted(wanted.items()):
            weight = app.weight_of(inst)
            current = servers.get((backend, server))
            if current is None:
                self.router.add_server(backend, server, server_address(inst.port), HEALTH_CHECK, weight)
                added.add((backend, server))
                continue
            if weight == 0 and current.weight > 0:
                to_zero.append((backend, server))
            elif weight != current.weight:
                if current.weight == 0 and current.check_status.lstrip("* ").startswith("INI"):
                    self.router.set_health_down(backend, server)  # UP unchecked: traffic only after a check
                self.router.set_weight(backend, server, weight)
            if current.status.startswith("MAINT") and (backend, server) not in drained:
                self.router.enable_server(backend, server)
        extra = set(servers) - set(wanted)
        takers = {  # per backend losing weight: its servers taking that traffic over
            b: {k for k, (app, inst) in wanted.items() if k[0] == b and app.weight_of(inst) > 0}
            for b in {backend for backend, _ in to_zero}
        }
        replacing = {k for k in added if k[0] == acting} if any(b == acting for b, _ in extra) else set()
        waits = replacing | takers.get(acting, set())
        for key in sorted(k for k in extra if k[0] == acting and waits):
            if servers[key].weight == 0 and servers[key].status.startswith("UP"):
                self.router.set_weight(*key, DEFAULT_WEIGHT)
        if waited is None and waits:
            return waits
        weighted = {k for k, (app, inst) in wanted.items() if app.weight_of(inst) > 0}
        pending = _pending_take_over(state)
        needed = to_zero or extra or pending
        lagging = self._not_serving(set().union(weighted, *takers.values())) if needed else set()
        kept = sorted({k for k in to_zero if takers[k[0]] & lagging})
        for key in to_zero:
            if key not in kept:
                self.router.set_weight(*key, 0)
        own = _own_extras_go(state, acting, weighted, waited)
        staying = {
            k
            for k in extra
            if (k[0] != acting or not own) and {w for w in weighted if w[0] == k[0]} & lagging
        }
        for backend, server in sorted(extra - staying):
            self.router.del_server(backend, server)  # before the process stops: no request reaches it
        groups = {str(p["group"]) for p in self.supervisor.processes()}
        for group in sorted(groups - {name for _, name in wanted} - {name for _, name in staying}):
            self.supervisor.remove_program(group)
        self._save_progress(state, pending, lagging, staying)
        if any(backend == acting for backend, _ in kept):
            self._not_taken_over(acting, kept, sorted(takers[acting] & lagging))
        return set()

    def _save_progress(
        self,
        state: PlatformState,
        pending: dict[str, set[tuple[str, str]]],
        lagging: set[tuple[str, str]],
        staying: set[tuple[str, str]],
    ) -> None:
        """Persist what the router now shows (saved, config rewritten): each deployment at 100 % whose new
        servers all serve (``pending``, none ``lagging``) is ``taken_over`` (``haproxy.cfg`` then has the old
        servers at 0, the new ones at 100), and a rollback's replaced servers that left the router (not
        ``staying``) leave ``retiring`` (no longer written to the config)."""
        changed = False
        for spec in state.apps:
            updated = spec
            active = spec.active_deployment()
            keys = pending.get(spec.name)
            if keys and not keys & lagging and active is not None:
                updated = _deploy.mark_taken_over(updated, active.id)
            retiring = tuple(
                (i, w) for i, w in spec.retiring if (spec.name, server_name(spec.name, i.index)) in staying
            )
            if retiring != spec.retiring:
                updated = replace(updated, retiring=retiring)
            if updated != spec:
                state, changed = state.with_app(updated), True
        if changed:
            self.paths.save(state)
            write_platform_files(self.paths, state, self._python)

    def _not_taken_over(self, app: str, kept: list[tuple[str, str]], lagging: list[tuple[str, str]]) -> None:
        """Journal and raise that ``app``'s old servers keep their weight: the new ones did not serve."""
        old = ", ".join(s for b, s in kept if b == app)
        new = ", ".join(s for _, s in lagging)
        message = (
            f"{new} did not pass a health check within {self.replace_wait_s:g} s: {old} keep their weight "
            "(the router still sends them traffic); retry when they run, or cancel the deployment"
        )
        log.warning("%s: %s", app, message)
        self.journal.add(
            app, "deployment", "local.deployment.not_taken_over", message, {"kept": old, "not_serving": new}
        )
        raise DeploymentError("reconcile", message)

    def _not_serving(self, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of the ``(backend, server)`` instances not RUNNING as :func:`cc_state` says: RUNNING in
        supervisord, UP in HAProxy after at least one health check (a just-added server is UP unchecked)."""
        states = {str(p["name"]): str(p["statename"]) for p in self.supervisor.processes()}
        serving = {
            (s.backend, s.server)
            for s in self.router.servers()
            if cc_state(states.get(s.server, "ABSENT"), s.status, s.check_status) == "RUNNING"
        }  # server and program share the name
        return keys - serving

    def _wait_serving(self, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Poll until the ``(backend, server)`` instances serve or ``replace_wait_s`` passed; those that
        still do not serve (empty when all do)."""
        deadline = time.monotonic() + self.replace_wait_s
        while True:
            try:
                lagging = self._not_serving(keys)
            except RouterUnavailableError:  # HAProxy restarting: not serving yet (same deadline)
                lagging = set(keys)
            if not lagging or time.monotonic() >= deadline:
                return lagging
            time.sleep(0.1)

    def restart_instance(self, app: str, index: int, wait: bool = True) -> InstanceInfo:
        """Stop and start one instance through supervisord (also a hung one: SIGTERM, then SIGKILL). Its
        router server is drained first (maintenance, requests in flight finish) and comes back only after a
        passing health check; with ``wait`` this returns once it serves again (or ``replace_wait_s``)."""
        with self._action("restart_instance"):
            info = self._restart_instance(app, index, wait)
            self.journal.add(
                app, "restart", "local.instance.restart", f"instance {index}", {"index": str(index)}
            )
            return info

    def _restart_instance(self, app: str, index: int, wait: bool) -> InstanceInfo:
        spec = self._app(self.state(), app, "restart_instance")
        if spec.instance(index) is None:
            valid = [str(i.index) for i in spec.instances]
            raise UnknownAppError("restart_instance", f"{app} has no instance {index}", valid)
        name = program_name(app, index)
        key = (app, server_name(app, index))
        row = (self._router_servers() or {}).get(key)
        if row is None:  # the router down or without the server: the restart must still happen
            self.supervisor.stop(name)
            self.supervisor.start(name, wait)
            return self._instance_info(app, index)
        self._mark_restarting(app, index)  # in state.json: every process's reconcile leaves it drained
        try:  # out of the router first: stopping it would cut its requests in flight (502)
            with contextlib.suppress(RouterError):  # (a hung instance's stuck requests: no drain wait)
                self.router.drain(*key, drain_s=5.0 if row.status.startswith("UP") else 0.0)
            self.supervisor.stop(name)
            self.supervisor.start(name, wait)
        except LocalPlatformError:  # a failed restart must not leave a running instance out of the router
            with contextlib.suppress(LocalPlatformError):  # (the restart's error is the one to report)
                self._bring_back(key, index)
            raise
        self._bring_back(key, index)  # back in the router only once a check passed
        if wait:  # rolling: before the next stops
            self._wait_serving({key})
        return self._instance_info(app, index)

    def _bring_back(self, key: tuple[str, str], index: int) -> None:
        """End a restart's drain: enable the server at the weight the state has *now* (a deployment's weight
        may have moved during the restart), or not at all when the instance left the state meanwhile."""
        with self.paths.locked():
            state = self.state()
            spec = state.app(key[0])
            if spec is None:
                return
            self.paths.save(state.with_app(spec.without_restarting(index)))
            inst = spec.instance(index)
            if inst is not None:  # an old one keeps serving until a deployment took over (config_weight_of)
                self.router.enable_checked(*key, max(spec.weight_of(inst), spec.config_weight_of(inst)))

    def _mark_restarting(self, app: str, index: int) -> None:
        """Persist that a restart holds ``app``'s instance ``index`` drained, for ``RESTART_MARK_S`` at most
        (a restart that crashed must not keep it out of the router for good)."""
        with self.paths.locked():
            state = self.state()
            spec = self._app(state, app, "restart_instance")
            now = time.time()
            self.paths.save(state.with_app(spec.with_restarting(index, now + RESTART_MARK_S, now)))

    def _instance_info(self, app: str, index: int) -> InstanceInfo:
        found = next((i for i in self.instances(app) if i.index == index), None)
        if found is None:  # scaled in (or rolled back) by another writer during the restart
            raise UnknownAppError("restart_instance", f"{app} instance {index} left during its restart", [])
        return found

    def restart_app(self, app: str, wait: bool = True) -> list[InstanceInfo]:
        """Rolling restart: one instance at a time, each RUNNING again (and, with ``wait``, UP in the router
        after a passing check) before the next stops. With ``wait``, an instance that does not serve again
        within ``replace_wait_s`` stops the roll: :class:`ComponentStartError` names it (the instances after
        it were not touched)."""
        with self._action("restart_app"):
            spec = self._app(self.state(), app, "restart_app")
            for inst in spec.instances:
                info = self._restart_instance(app, inst.index, wait)
                if wait and info.state != "RUNNING":
                    rest = [str(i.index) for i in spec.instances if i.index > inst.index]
                    message = (
                        f"instance {inst.index} ({info.program}) is {info.state} "
                        f"{self.replace_wait_s:g} s after its restart; the rolling restart stopped"
                        + (f" before instances {', '.join(rest)}" if rest else "")
                    )
                    self.journal.add(
                        app, "restart", "local.app.restart_stopped", message, {"index": str(inst.index)}
                    )
                    raise ComponentStartError("app", "restart_app", message)
            self.journal.add(app, "restart", "local.app.restart", "rolling restart of every instance")
            return self.instances(app)

    # -- remediation seam (platforms.base.Remediable) --------------------------------------------------------

    def app_instances(self, app: str) -> list[Instance]:
        """Every desired instance of ``app`` with its CC-style state, revision and router weight; ``details``
        has the process state, router status, pid, port and program."""
        return [
            Instance(
                app=i.app,
                index=i.index,
                state=i.state,
                revision=i.revision,
                weight=i.weight,
                details={
                    "process_state": i.process_state,
                    "router_status": i.router_status,
                    "pid": "" if i.pid is None else str(i.pid),
                    "port": str(i.port),
                    "program": i.program,
                },
            )
            for i in self.instances(app)
        ]

    def revisions(self, app: str) -> list[Revision]:
        spec = self._app(self.state(), app, "revisions")
        return [Revision(r.id, r.version, r.description, r.id == spec.current) for r in spec.revisions]

    def create_revision(self, app: str, version: str, *, env: dict[str, str] | None = None) -> Revision:
        """A new revision ``v<N>`` of ``app``: sample-app ``version`` started with ``env`` (which may bake in
        a fault: ``SAMPLE_APP_FAULT=errors``, ``SAMPLE_APP_FAULT_RATE=0.5``). Returns the latest revision
        instead when it has the same version and env (a retried call). Nothing starts until deployed."""
        with self._action("create_revision"), self.paths.locked():
            state = self.state()
            spec, revision = _deploy.create_revision(
                self._app(state, app, "create_revision"), version, env or {}
            )
            self.paths.save(state.with_app(spec))
            return Revision(revision.id, revision.version, revision.description, revision.id == spec.current)

    def start_deployment(self, app: str, revision: str, weight_pct: int) -> Deployment:
        """Start as many ``revision`` instances as the current revision has, beside them, with ``weight_pct``
        of the router's traffic. Returns when supervisord has the programs and HAProxy the servers (which
        get traffic only after a passing health check); at 100 % it returns once they serve (or after
        ``replace_wait_s``), the old instances keeping their weight until then, and raises
        :class:`DeploymentError` if they still do not serve (the old ones keep their weight; the deployment
        is saved: retry or cancel it). The deployment is DEPLOYING until the new instances are RUNNING, then
        PAUSED. A retry (same revision) sets the weight."""
        with self._action("start_deployment"):
            return self._transition(
                app, "start_deployment", lambda spec: _deploy.start(spec, revision, weight_pct, free_port)
            )

    def set_deployment_weight(self, deployment: str, weight_pct: int) -> Deployment:
        """Give the new revision ``weight_pct`` of the traffic (HAProxy server weights, applied live); at
        100 % as :meth:`start_deployment` (waits for the new instances, raises if they do not serve)."""
        with self._action("set_deployment_weight"):
            app = self._deployment_app(deployment, "set_deployment_weight")
            return self._transition(
                app, "set_deployment_weight", lambda spec: _deploy.set_weight(spec, deployment, weight_pct)
            )

    def promote_deployment(self, deployment: str) -> Deployment:
        """The new revision becomes current: old instances leave HAProxy first, then stop."""
        with self._action("promote_deployment"):
            app = self._deployment_app(deployment, "promote_deployment")
            return self._transition(app, "promote_deployment", lambda spec: _deploy.promote(spec, deployment))

    def cancel_deployment(self, deployment: str) -> Deployment:
        """Back to the previous revision: new instances leave HAProxy, then stop; old ones get weight 1."""
        with self._action("cancel_deployment"):
            app = self._deployment_app(deployment, "cancel_deployment")
            return self._transition(app, "cancel_deployment", lambda spec: _deploy.cancel(spec, deployment))

    def deployment(self, deployment: str) -> Deployment:
        app = self._deployment_app(deployment, "deployment")
        spec = self._app(self.state(), app, "deployment")
        found = _deploy.find(spec, deployment)
        if found is None:  # removed between the two reads: only possible with hand-edited state
            raise UnknownAppError(
                "deployment", f"no deployment {deployment!r}", [d.id for d in spec.deployments]
            )
        return self._deployment(app, found)

    def rollback(self, app: str, revision: str) -> Deployment:
        """Replace every instance of ``app`` with new ones of ``revision`` at once and make it current (an
        active deployment is canceled first). New instances are added to HAProxy before the old ones leave."""
        with self._action("rollback"):
            return self._transition(app, "rollback", lambda spec: _deploy.rollback(spec, revision, free_port))

    def _transition(
        self, app: str, call: str, change: Callable[[AppSpec], tuple[AppSpec, DeploymentSpec]]
    ) -> Deployment:
        with self.paths.locked():
            state = self.state()
            spec, record = change(self._app(state, app, call))
            waits = self._apply(state.with_app(spec), app)
        if waits:
            try:
                self._settle(app, waits)
            except DeploymentError as exc:  # (maybe about a deployment started meanwhile: say so first)
                if (superseded := self._superseded(app, record)) is not None:
                    raise DeploymentError(call, superseded) from exc
                raise
            if (superseded := self._superseded(app, record)) is not None:
                raise DeploymentError(call, superseded)
            now = self.state().app(app)
            record = (_deploy.find(now, record.id) if now else None) or record  # e.g. a new weight meanwhile
        facts = {"revision": record.revision, "state": record.state, "weight_pct": str(record.weight_pct)}
        self.journal.add(
            app, "deployment", f"local.{call}", f"{call} {record.id} of {record.revision}", facts
        )
        return self._deployment(app, record)

    def _superseded(self, app: str, record: DeploymentSpec) -> str | None:
        """Why ``record`` (what this call saved before its unlocked wait) is no longer the app's outcome: it
        changed state (a cancel) or a newer deployment or rollback was saved meanwhile; None when it stands.
        Returning it as this call's result would report someone else's outcome as success."""
        spec = self.state().app(app)
        now = _deploy.find(spec, record.id) if spec is not None else None
        newest = spec.deployments[-1] if spec is not None and spec.deployments else None
        if now is not None and now.state == record.state and newest is not None and newest.id == record.id:
            return None
        if newest is None or newest.id == record.id:
            by = "another call"
        else:
            by = f"{newest.id} ({newest.state}, revision {newest.revision})"
        state = now.state if now is not None else "gone"
        return (
            f"{record.id} of {record.revision} was superseded by {by} while it waited for its new instances "
            f"(it is {state} now): the app's state is that call's outcome, not this one's"
        )

    def events(self, app: str | None, since: float, until: float, limit: int = 200) -> list[PlatformEvent]:
        """:class:`platforms.base.EventSource`: what the write verbs did (``platforms.local.events``
        journal) and instances that crashed and stayed down (supervisord)."""
        state = self.state()
        programs = {program_name(a.name, i.index): (a.name, i.index) for a in state.apps for i in a.instances}
        processes = self.supervisor.processes()
        return local_events(
            self.journal,
            processes=processes,
            programs=programs,
            app=app,
            since=since,
            until=until,
            limit=limit,
        )

    def _deployment_app(self, deployment: str, call: str) -> str:
        state = self.state()
        for spec in state.apps:
            if _deploy.find(spec, deployment) is not None:
                return spec.name
        valid = [d.id for a in state.apps for d in a.deployments]
        raise UnknownAppError(call, f"no deployment {deployment!r}", valid)

    def _deployment(self, app: str, record: DeploymentSpec) -> Deployment:
        status = record.state
        if record.active:
            new = [i for i in self.instances(app) if i.revision == record.revision]
            status = "PAUSED" if new and all(i.state == "RUNNING" for i in new) else "DEPLOYING"
        return Deployment(
            record.id, app, record.revision, record.previous_revision, status, record.weight_pct
        )
