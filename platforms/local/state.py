"""Desired state of the local platform, persisted in its state directory.

HAProxy's runtime changes and supervisord's dynamic programs are lost when those processes restart, so the
platform writes what it wants (apps, instance indexes, ports, each app's revisions, the revision each instance
runs, blue-green deployments and so the router weights) to ``state.json`` and regenerates both configs from
it. Writers take an exclusive lock (``fcntl.flock`` on ``state.lock`` plus a thread lock), so the demo, the
Paramedic server and tests can change the same platform safely; files are replaced atomically.

Layout of a state directory (every path the platform uses is here, nowhere else)::

    state.json  state.lock  haproxy.cfg  haproxy.sock  supervisord.conf  supervisor.sock  supervisor.secret
    programs/<app>-<index>.conf  logs/  logs/apps/<app>-<index>.log (instance stdout+stderr)
    rsyslog.conf  rsyslog/ (its workDirectory and pid file)  router-log.sock (HAProxy -> rsyslog)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import re
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from platforms.local.errors import StateError

__all__ = [
    "DEFAULT_APP_VERSION",
    "DEFAULT_WEIGHT",
    "AppSpec",
    "DeploymentSpec",
    "InstanceSpec",
    "PlatformState",
    "RevisionSpec",
    "StateDir",
    "free_port",
    "reserve_ports",
    "validate_app_name",
    "validate_env",
    "write_atomic",
]

_APP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_MAX_UNIX_PATH = 100  # sun_path is 108 bytes on Linux; keep a margin
_THREAD_LOCK = threading.RLock()
_HELD = threading.local()  # the lock files this thread holds (StateDir.locked's re-entrance)
log = logging.getLogger("platforms.local.state")

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")
DEFAULT_APP_VERSION = "1.0.0"
DEFAULT_WEIGHT = 1  # HAProxy's default server weight: every instance of an app without a deployment
MAX_DEPLOYMENTS_KEPT = 50


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PICKED = 10_000


def _picking_range() -> tuple[int, int] | None:
    """Ports below the kernel's ephemeral range (``ip_local_port_range``), or None when that range starts too
    low to leave a useful span below it."""
    try:
        low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default
    return (_LOWEST_PICKED, low - 1) if low - _LOWEST_PICKED >= 1000 else None


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_HANDED_OUT: set[int] = set()


def reserve_ports(*ports: int) -> None:
    """Never hand out ``ports`` from :func:`free_port` in this process: ports a caller chose (command-line
    options) that something else in this process binds only later (the demo's log listeners bind after the
    platform's instances and HAProxy have picked theirs)."""
    _HANDED_OUT.update(p for p in ports if p > 0)


def free_port() -> int:
    """A port that is free on 127.0.0.1 right now, picked at random below the ephemeral range: a port the
    kernel hands out (bind to 0) can be taken by any outgoing connection before its user binds it, one from
    below the range only by another listener."""
    span = _picking_range()
    if span is not None:
        for _ in range(100):
            port = random.randint(*span)  # noqa: S311 - spreading picks, not a secret
            # never the same port twice in one process: callers pick several before binding any
            if port not in _HANDED_OUT and _bindable(port):
                _HANDED_OUT.add(port)
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def validate_app_name(name: str) -> str:
    """App names are hostnames (``<app>.local``), HAProxy backend and supervisord program names at once."""
    if not _APP_NAME.match(name):
        raise StateError("state", "validate_app_name", f"{name!r}: use 1-40 of a-z, 0-9, '-', starting a-z")
    return name


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    index: int
    port: int
    revision: str = "v1"


def validate_env(env: dict[str, str], call: str) -> tuple[tuple[str, str], ...]:
    """A revision's environment: shell-style names, values safe in supervisord's quoted ``environment=``."""
    for key, value in env.items():
        if not _ENV_NAME.match(key):
            raise StateError(
                "state", call, f"env name {key!r}: use A-Z, 0-9, '_' (not starting with a digit)"
            )
        if any(c in value for c in '"\\\n\r'):
            raise StateError(
                "state", call, f"env {key}: value must not contain quotes, backslashes or newlines"
            )
    return tuple(sorted(env.items()))


@dataclass(frozen=True, slots=True)
class RevisionSpec:
    """Revision ``v<version>`` of an app: the sample app's version string plus its start environment."""

    id: str
    version: int
    app_version: str
    env: tuple[tuple[str, str], ...] = ()

    @property
    def description(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in self.env)
        return f"sample app {self.app_version}" + (f" with {env}" if env else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "app_version": self.app_version,
            "env": dict(self.env),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RevisionSpec:
        env = tuple(sorted((str(k), str(v)) for k, v in dict(data.get("env") or {}).items()))
        return cls(str(data["id"]), int(data["version"]), str(data["app_version"]), env)


FIRST_REVISION = RevisionSpec("v1", 1, DEFAULT_APP_VERSION)


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    """A blue-green deployment as persisted: ``state`` is DEPLOYING while active (reported DEPLOYING or PAUSED
    from the new instances' live state), then DEPLOYED (promoted, or a rollback) or CANCELED."""

    id: str
    revision: str
    previous_revision: str
    state: str
    weight_pct: int
    # at 100 %: the new instances passed a check and the old ones' weight went to 0 in the router; until then
    # the written haproxy.cfg keeps the old ones serving (AppSpec.config_weight_of)
    taken_over: bool = False

    @property
    def active(self) -> bool:
        return self.state == "DEPLOYING"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "revision": self.revision,
            "previous_revision": self.previous_revision,
            "state": self.state,
            "weight_pct": self.weight_pct,
            "taken_over": self.taken_over,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeploymentSpec:
        return cls(
            str(data["id"]),
            str(data["revision"]),
            str(data["previous_revision"]),
            str(data["state"]),
            int(data["weight_pct"]),
            bool(data.get("taken_over", False)),
        )


@dataclass(frozen=True, slots=True)
class AppSpec:
    """An app: its instances (each runs one revision), its revisions, the current one and its deployments
    (oldest first, the last ``MAX_DEPLOYMENTS_KEPT``; at most one active, always the last)."""

    name: str
    instances: tuple[InstanceSpec, ...]
    revisions: tuple[RevisionSpec, ...] = (FIRST_REVISION,)
    current: str = "v1"
    deployments: tuple[DeploymentSpec, ...] = ()
    next_free: int = 0  # no index below it is handed out again (see next_index)
    # (index, until: epoch seconds) of instances a restart has drained, in any process: a reconcile leaves
    # their server in maintenance until the restart brings it back or ``until`` passed (a crashed restart)
    restarting: tuple[tuple[int, float], ...] = ()
    # (instance, weight in haproxy.cfg) a rollback replaced and the router still has: written to the config
    # until the rollback's new instances serve, so a restarted HAProxy keeps them serving (config_weight_of)
    retiring: tuple[tuple[InstanceSpec, int], ...] = ()

    def instance(self, index: int) -> InstanceSpec | None:
        return next((i for i in self.instances if i.index == index), None)

    def revision(self, revision_id: str) -> RevisionSpec | None:
        return next((r for r in self.revisions if r.id == revision_id), None)

    def active_deployment(self) -> DeploymentSpec | None:
        last = self.deployments[-1] if self.deployments else None
        return last if last is not None and last.active else None

    def weight_of(self, inst: InstanceSpec) -> int:
        """Router weight: 1 each without a deployment; during one, the new revision's instances get
        ``weight_pct`` each and the others ``100 - weight_pct`` (as many of each: the split is the share)."""
        deployment = self.active_deployment()
        if deployment is None:
            return DEFAULT_WEIGHT
        return deployment.weight_pct if inst.revision == deployment.revision else 100 - deployment.weight_pct

    def config_weight_of(self, inst: InstanceSpec) -> int:
        """The weight to write in ``haproxy.cfg``: what is safe when HAProxy (re)starts from it now.

        HAProxy starts a configured server UP before its first check. At 100 %, before the new instances
        have been seen serving (``taken_over``), :meth:`weight_of` would give the old ones 0 and the new ones
        100: a restarted HAProxy would send everything to instances that may not answer yet, with nothing to
        retry on. So the new ones are written at 0 and the old ones at their default weight until then; the
        runtime path (a reconcile) gives the new ones their weight after a passing check."""
        deployment = self.active_deployment()
        if deployment is not None and deployment.weight_pct == 100 and not deployment.taken_over:
            return 0 if inst.revision == deployment.revision else DEFAULT_WEIGHT
        if self.retiring:  # a rollback's new instance: its replaced ones serve until the new ones do
            return 0
        return self.weight_of(inst)

    def with_retiring(self, replaced: AppSpec) -> AppSpec:
        """This app (a rollback's result) keeping in ``haproxy.cfg`` the instances of ``replaced`` it drops,
        at the weight the config had for them, until its new instances serve (the reconcile clears it)."""
        mine = {i.index for i in self.instances}
        kept = {i.index: (i, w) for i, w in replaced.retiring if i.index not in mine}
        for inst in replaced.instances:
            if inst.index not in mine:
                kept[inst.index] = (inst, replaced.config_weight_of(inst))
        return replace(self, retiring=tuple(kept[i] for i in sorted(kept)))

    def restarting_now(self, now: float, longest: float | None = None) -> set[int]:
        """Indexes of the instances a restart holds drained now (unexpired marks); with ``longest``, a mark
        ending more than that after ``now`` (the wall clock went back since it was set) is ignored."""
        return {
            index
            for index, until in self.restarting
            if until > now and (longest is None or until <= now + longest)
        }

    def with_restarting(self, index: int, until: float, now: float) -> AppSpec:
        """This app with instance ``index`` marked drained by a restart until ``until`` (expired marks go)."""
        kept = tuple((i, u) for i, u in self.restarting if i != index and u > now)
        return replace(self, restarting=(*kept, (index, until)))

    def without_restarting(self, index: int) -> AppSpec:
        return replace(self, restarting=tuple((i, u) for i, u in self.restarting if i != index))

    def next_index(self) -> int:
        """The index for a new instance: past every instance this app ever had, not only those it has now.

        An index names the instance's router server and supervisord program; when a reconcile failed (a
        server still serving requests refuses to leave) the old server and program are still there after
        their instance left the state, and a new instance reusing the index would get that old server (old
        address, old release) under the new revision's name. So the counter only grows, and is persisted."""
        return max(self.next_free, max((i.index for i in self.instances), default=-1) + 1)

    def with_instances(self, instances: tuple[InstanceSpec, ...]) -> AppSpec:
        """This app with ``instances`` instead, its index counter past every instance it had or has."""
        past = max((i.index + 1 for i in instances), default=0)
        return replace(self, instances=instances, next_free=max(self.next_index(), past))

    def to_json(self) -> dict[str, Any]:
        return {
            "instances": [{"index": i.index, "port": i.port, "revision": i.revision} for i in self.instances],
            "revisions": [r.to_json() for r in self.revisions],
            "current": self.current,
            "deployments": [d.to_json() for d in self.deployments[-MAX_DEPLOYMENTS_KEPT:]],
            "next_index": self.next_free,
            "restarting": {str(i): u for i, u in self.restarting},
            "retiring": [
                {"index": i.index, "port": i.port, "revision": i.revision, "weight": w}
                for i, w in self.retiring
            ],
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any] | list[Any]) -> AppSpec:
        if isinstance(data, list):  # version 1: a list of instances, every one on the first revision
            data = {"instances": data}
        current = str(data.get("current", "v1"))
        revisions = tuple(
            RevisionSpec.from_json(r) for r in data.get("revisions") or [FIRST_REVISION.to_json()]
        )
        instances = tuple(
            InstanceSpec(int(i["index"]), int(i["port"]), str(i.get("revision", current)))
            for i in sorted(data["instances"], key=lambda i: int(i["index"]))
        )
        deployments = tuple(DeploymentSpec.from_json(d) for d in data.get("deployments") or [])
        next_free = int(data.get("next_index") or 0)  # absent before the counter (0: past the instances)
        retiring = _retiring(name, data.get("retiring"))
        return cls(
            validate_app_name(name),
            instances,
            revisions,
            current,
            deployments,
            next_free,
            _restarting(name, data.get("restarting")),
            retiring,
        )


def _retiring(app: str, data: object) -> tuple[tuple[InstanceSpec, int], ...]:
    """``retiring`` as saved (a list of {index, port, revision, weight}); anything else is dropped with a
    warning, not an error, as ``restarting`` is: the entries only keep a rollback's replaced servers in
    ``haproxy.cfg`` until the new ones serve, so losing them costs that window, while an error would make
    every load of the state fail until someone edits the file."""
    if not data:
        return ()
    try:
        if not isinstance(data, list):
            raise TypeError(f"expected a list, got {type(data).__name__}")
        return tuple(
            (InstanceSpec(int(r["index"]), int(r["port"]), str(r["revision"])), int(r["weight"]))
            for r in data
        )
    except (TypeError, ValueError, KeyError) as exc:
        log.warning("state.json: apps.%s.retiring ignored (%r): %r", app, exc, data)
        return ()


def _restarting(app: str, data: object) -> tuple[tuple[int, float], ...]:
    """``restarting`` as saved ({index: until}); anything else is dropped with a warning, not an error: a
    drain mark is advisory (it expires anyway) and a bad one must not make every load of the state fail."""
    if not data:
        return ()
    try:
        if not isinstance(data, dict):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        return tuple(sorted((int(i), float(u)) for i, u in data.items()))
    except (TypeError, ValueError) as exc:
        log.warning("state.json: apps.%s.restarting ignored (%s): %r", app, exc, data)
        return ()


@dataclass(frozen=True, slots=True)
class PlatformState:
    """Ports of the shared parts and the apps with their instances (sorted by name, then index)."""

    router_port: int
    stats_port: int
    node_exporter_port: int
    apps: tuple[AppSpec, ...] = field(default_factory=tuple)

    @classmethod
    def new(cls, apps: dict[str, int], port_allocator: Callable[[], int] = free_port) -> PlatformState:
        specs = tuple(
            AppSpec(
                validate_app_name(name),
                tuple(InstanceSpec(i, port_allocator()) for i in range(count)),
            )
            for name, count in sorted(apps.items())
        )
        return cls(port_allocator(), port_allocator(), port_allocator(), specs)

    def app(self, name: str) -> AppSpec | None:
        return next((a for a in self.apps if a.name == name), None)

    def with_app(self, spec: AppSpec) -> PlatformState:
        others = [a for a in self.apps if a.name != spec.name]
        return replace(self, apps=tuple(sorted([*others, spec], key=lambda a: a.name)))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 2,
            "router_port": self.router_port,
            "stats_port": self.stats_port,
            "node_exporter_port": self.node_exporter_port,
            "apps": {a.name: a.to_json() for a in self.apps},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlatformState:
        apps = tuple(AppSpec.from_json(name, spec) for name, spec in sorted(data["apps"].items()))
        return cls(int(data["router_port"]), int(data["stats_port"]), int(data["node_exporter_port"]), apps)


class StateDir:
    """Paths of one platform's state directory, and locked, atomic access to ``state.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.state_file = self.root / "state.json"
        self.lock_file = self.root / "state.lock"
        self.haproxy_cfg = self.root / "haproxy.cfg"
        self.haproxy_sock = self.root / "haproxy.sock"
        self.supervisord_conf = self.root / "supervisord.conf"
        self.supervisor_sock = self.root / "supervisor.sock"
        self.supervisor_secret = self.root / "supervisor.secret"
        self.programs_dir = self.root / "programs"
        self.logs_dir = self.root / "logs"
        self.app_logs_dir = self.logs_dir / "apps"
        self.rsyslog_conf = self.root / "rsyslog.conf"
        self.rsyslog_dir = self.root / "rsyslog"
        self.rsyslog_pid = self.rsyslog_dir / "rsyslogd.pid"
        self.router_log_sock = self.root / "router-log.sock"

    def create(self) -> None:
        """Make the directories; refuses paths too long for the unix sockets."""
        for sock in (self.haproxy_sock, self.supervisor_sock, self.router_log_sock):
            if len(str(sock)) > _MAX_UNIX_PATH:
                raise StateError(
                    "state", "create", f"{sock}: path too long for a unix socket; use a shorter dir"
                )
        try:
            self.programs_dir.mkdir(parents=True, exist_ok=True)
            self.app_logs_dir.mkdir(parents=True, exist_ok=True)
            self.rsyslog_dir.mkdir(parents=True, exist_ok=True)
            if not self.supervisor_secret.exists():
                fd = os.open(self.supervisor_secret, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_urlsafe(24))
        except FileExistsError:
            pass  # created concurrently
        except OSError as exc:
            raise StateError("state", "create", f"{self.root}: {exc.strerror}") from exc

    def supervisor_password(self) -> str | None:
        """The XML-RPC password (file mode 0600), or None for a state dir without one."""
        try:
            return self.supervisor_secret.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(
                "state", "supervisor_password", f"{self.supervisor_secret}: {exc.strerror}"
            ) from exc

    def program_conf(self, program: str) -> Path:
        return self.programs_dir / f"{program}.conf"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across threads and processes; re-entrant within a thread.

        A nested call in the thread that holds the lock only counts a level: a second ``flock`` on a new
        descriptor of the same file would wait for the first one, i.e. for ever (flock locks belong to the
        open file, not to the process)."""
        with _THREAD_LOCK:
            held: set[str] = getattr(_HELD, "paths", set())
            key = str(self.lock_file)
            if key in held:
                yield
                return
            try:
                fd = os.open(self.lock_file, os.O_CREAT | os.O_RDWR, 0o600)
            except OSError as exc:
                raise StateError("state", "lock", f"{self.lock_file}: {exc.strerror}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                _HELD.paths = held | {key}
                yield
            finally:
                _HELD.paths = held
                os.close(fd)  # closing releases the flock

    def load(self) -> PlatformState:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            return PlatformState.from_json(data)
        except FileNotFoundError as exc:
            raise StateError(
                "state",
                "load",
                f"{self.state_file} does not exist: is the platform running (paramedic demo)?",
            ) from exc
        except OSError as exc:
            raise StateError("state", "load", f"{self.state_file}: {exc.strerror}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise StateError("state", "load", f"{self.state_file} is corrupt: {exc!r}") from exc

    def save(self, state: PlatformState) -> None:
        write_atomic(self.state_file, json.dumps(state.to_json(), indent=2) + "\n")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path`` and rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise StateError("state", "write", f"{path}: {exc.strerror}") from exc
