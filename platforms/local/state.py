"""Desired state of the local platform, persisted in its state directory.

HAProxy's runtime changes and supervisord's dynamic programs are lost when those processes restart, so the
platform writes what it wants (apps, instance indexes, ports) to ``state.json`` and regenerates both configs
from it. Writers take an exclusive lock (``fcntl.flock`` on ``state.lock`` plus a thread lock), so the demo,
the Paramedic server and tests can change the same platform safely; files are replaced atomically.

Layout of a state directory (every path the platform uses is here, nowhere else)::

    state.json  state.lock  haproxy.cfg  haproxy.sock  supervisord.conf  supervisor.sock  supervisor.secret
    programs/<app>-<index>.conf  logs/  logs/apps/<app>-<index>.log (instance stdout+stderr)
    rsyslog.conf  rsyslog/ (its workDirectory and pid file)  router-log.sock (HAProxy -> rsyslog)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
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
    "AppSpec",
    "InstanceSpec",
    "PlatformState",
    "StateDir",
    "free_port",
    "validate_app_name",
    "write_atomic",
]

_APP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_MAX_UNIX_PATH = 100  # sun_path is 108 bytes on Linux; keep a margin
_THREAD_LOCK = threading.RLock()


def free_port() -> int:
    """A port that is free on 127.0.0.1 right now."""
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


@dataclass(frozen=True, slots=True)
class AppSpec:
    name: str
    instances: tuple[InstanceSpec, ...]

    def instance(self, index: int) -> InstanceSpec | None:
        return next((i for i in self.instances if i.index == index), None)


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
            "version": 1,
            "router_port": self.router_port,
            "stats_port": self.stats_port,
            "node_exporter_port": self.node_exporter_port,
            "apps": {a.name: [{"index": i.index, "port": i.port} for i in a.instances] for a in self.apps},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlatformState:
        apps = tuple(
            AppSpec(
                validate_app_name(name),
                tuple(
                    InstanceSpec(int(i["index"]), int(i["port"]))
                    for i in sorted(insts, key=lambda i: int(i["index"]))
                ),
            )
            for name, insts in sorted(data["apps"].items())
        )
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
        """Exclusive across threads and processes; re-entrant within a thread."""
        with _THREAD_LOCK:
            try:
                fd = os.open(self.lock_file, os.O_CREAT | os.O_RDWR, 0o600)
            except OSError as exc:
                raise StateError("state", "lock", f"{self.lock_file}: {exc.strerror}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
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
