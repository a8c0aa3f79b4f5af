"""Start and stop the local platform's processes: supervisord (cell), HAProxy (router), node exporter, and,
when given a RELP target, rsyslog forwarding app output and router access logs (as BOSH syslog-release does).

Start order: rsyslog (if any) -> supervisord with every instance program (answering /healthz) -> HAProxy ->
node exporter; stop order is the reverse (rsyslog last, so it reads the instances' final lines).
Configs are regenerated from ``state.json`` on every start, so runtime changes (scaling) survive restarts.
supervisord runs from this Python (``python -m supervisor.supervisord``, PyPI supervisor 4.3): the same
version on every machine, no dependency on Debian's packaging. Not thread-safe: one owner starts and stops.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import prometheus_client
from prometheus_client import CollectorRegistry

from platforms.local._files import write_platform_files
from platforms.local._metrics import platform_metrics
from platforms.local.errors import ComponentStartError, RouterError, SupervisorError
from platforms.local.haproxy_runtime import HAProxyRuntime
from platforms.local.processes import (
    ChildProcess,
    ProcessRecord,
    pid_start_time,
    process_alive,
    spawn,
    stop_pid,
)
from platforms.local.rsyslog_config import render_rsyslog_config
from platforms.local.state import PlatformState, StateDir, free_port, write_atomic
from platforms.local.supervisor_client import SupervisorClient

__all__ = ["NODE_EXPORTER_COLLECTORS", "LocalPlatformRunner", "find_binary", "node_exporter_command"]

# filesystem: the local pack's HostDiskLow and the capacity page's disk read node_filesystem_*
NODE_EXPORTER_COLLECTORS = ("cpu", "meminfo", "loadavg", "stat", "netdev", "filesystem")
# node_exporter's default fs-types-exclude drops overlay, which is the root filesystem of a container (and of
# hosts booted from an overlay root): HostDiskLow and the capacity page then had no root series there. The
# same pseudo filesystems without overlay; the per-container overlays of a host running containers are left
# out by mount point instead (Docker's, containers/storage's in /var/lib and a user's home, the kubelet's),
# with the kernel's and systemd's mounts (/dev, /proc, /run, /sys). Written out, not left to the build's
# defaults: Debian's add /mnt and /media, upstream's do not.
NODE_EXPORTER_FS_TYPES_EXCLUDE = (
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue"
    "|nsfs|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$"
)
NODE_EXPORTER_MOUNT_POINTS_EXCLUDE = (
    "^/(dev|proc|run|sys|var/lib/docker/.+|var/lib/kubelet/.+|var/lib/containers/storage/.+"
    "|.+/containers/storage/.+)($|/)"
)


def node_exporter_command(binary: str, port: int) -> list[str]:
    """The node exporter's command line: the collectors the packs and pages read, on loopback ``port``."""
    return [
        binary,
        f"--web.listen-address=127.0.0.1:{port}",
        "--collector.disable-defaults",
        *(f"--collector.{c}" for c in NODE_EXPORTER_COLLECTORS),
        f"--collector.filesystem.fs-types-exclude={NODE_EXPORTER_FS_TYPES_EXCLUDE}",
        f"--collector.filesystem.mount-points-exclude={NODE_EXPORTER_MOUNT_POINTS_EXCLUDE}",
    ]


def find_binary(name: str, *fallbacks: str) -> str:
    found = shutil.which(name) or next((f for f in fallbacks if Path(f).exists()), None)
    if found is None:
        raise ComponentStartError(name, "find_binary", f"{name} is not installed: run scripts/install.sh")
    return found


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as resp:  # noqa: S310 -- loopback URL we built
            return int(resp.status) < 500
    except (urllib.error.URLError, OSError):
        return False


class LocalPlatformRunner:
    """Owns the platform processes of one state directory."""

    def __init__(
        self,
        state_dir: Path,
        *,
        python: str = sys.executable,
        haproxy: str | None = None,
        node_exporter: str | None = None,
        port_allocator: Callable[[], int] = free_port,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
        relp_target: tuple[str, int] | None = None,
        rsyslogd: str | None = None,
    ) -> None:
        """``relp_target`` (host, port): also run rsyslog forwarding the platform's logs there over RELP."""
        self.paths = StateDir(state_dir)
        self.python = python
        self.haproxy = haproxy or find_binary("haproxy", "/usr/sbin/haproxy")
        self.node_exporter = node_exporter or find_binary(
            "prometheus-node-exporter", "/usr/bin/prometheus-node-exporter"
        )
        self._ports = port_allocator
        self.relp_target = relp_target
        self.rsyslogd = None
        if relp_target is not None:
            self.rsyslogd = rsyslogd or find_binary("rsyslogd", "/usr/sbin/rsyslogd")
        metrics = platform_metrics(registry)
        self._supervisor = SupervisorClient(self.paths, metrics)
        self._router = HAProxyRuntime(self.paths.haproxy_sock, metrics)
        self.children: list[ChildProcess] = []

    def init(self, apps: dict[str, int]) -> PlatformState:
        """Write a fresh desired state (new free ports) with ``apps`` (name -> instance count)."""
        self.paths.create()
        state = PlatformState.new(apps, self._ports)
        with self.paths.locked():
            self.paths.save(state)
        return state

    def start(self, timeout_s: float = 30.0, wait_instances: bool = True) -> None:
        """Start every component from the saved state; returns when each answers (and every instance)."""
        with self.paths.locked():
            state = self.paths.load()
            write_platform_files(self.paths, state, self.python)
        self.paths.supervisor_sock.unlink(missing_ok=True)
        self.paths.haproxy_sock.unlink(missing_ok=True)
        try:
            self.start_log_forwarder(timeout_s)
            sup = self._spawn(
                "supervisord",
                [self.python, "-m", "supervisor.supervisord", "-c", str(self.paths.supervisord_conf)],
            )
            self._wait(sup, timeout_s, "supervisord RUNNING", self._supervisor_running)
            if wait_instances:  # before the router, so it does not start by marking them all DOWN
                for app in state.apps:
                    for inst in app.instances:
                        health = f"http://127.0.0.1:{inst.port}/healthz"
                        what = f"{app.name} instance {inst.index}"
                        self._wait(sup, timeout_s, what, functools.partial(_http_ok, health))
            router = self.start_router(timeout_s)
            node = self._spawn(
                "node-exporter", node_exporter_command(self.node_exporter, state.node_exporter_port)
            )
            url = f"http://127.0.0.1:{state.node_exporter_port}/metrics"
            self._wait(node, timeout_s, f"{url} to answer", lambda: _http_ok(url))
            if wait_instances:
                self._wait(router, timeout_s, "every server UP in HAProxy", self._router_all_up)
        except BaseException:
            self.stop()
            raise

    def start_router(self, timeout_s: float = 30.0) -> ChildProcess:
        """(Re)start HAProxy from a config regenerated from the state (runtime changes re-applied)."""
        self.stop_component("haproxy")
        with self.paths.locked():
            state = self.paths.load()
            write_platform_files(self.paths, state, self.python)
        router = self._spawn("haproxy", [self.haproxy, "-db", "-f", str(self.paths.haproxy_cfg)])
        url = f"http://127.0.0.1:{state.stats_port}/metrics"
        self._wait(
            router, timeout_s, f"{url} to answer", lambda: _http_ok(url) and self.paths.haproxy_sock.exists()
        )
        return router

    def start_log_forwarder(self, timeout_s: float = 30.0) -> ChildProcess | None:
        """(Re)start rsyslog with a regenerated config; returns when it listens for the router's lines."""
        if self.relp_target is None or self.rsyslogd is None:
            return None
        self.stop_component("rsyslogd")
        host, port = self.relp_target
        write_atomic(self.paths.rsyslog_conf, render_rsyslog_config(self.paths, host, port))
        self.paths.router_log_sock.unlink(missing_ok=True)
        self.paths.rsyslog_pid.unlink(missing_ok=True)
        child = self._spawn(
            "rsyslogd",
            [self.rsyslogd, "-n", "-f", str(self.paths.rsyslog_conf), "-i", str(self.paths.rsyslog_pid)],
        )
        sock = self.paths.router_log_sock
        self._wait(child, timeout_s, f"{sock} to exist", sock.exists)
        return child

    def _spawn(self, name: str, argv: list[str]) -> ChildProcess:
        child = spawn(name, argv, self.paths.logs_dir / f"{name}.out", cwd=self.paths.root)
        self.children.append(child)
        return child

    def _router_all_up(self) -> bool:
        try:
            return all(s.status == "UP" for s in self._router.servers())
        except RouterError:
            return False

    def _supervisor_running(self) -> bool:
        try:
            return self._supervisor.state() == "RUNNING"
        except SupervisorError:
            return False

    def _wait(self, child: ChildProcess, timeout_s: float, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not child.alive():
                raise ComponentStartError(
                    child.name, "start", f"exited with {child.popen.returncode}:\n{child.log_tail()}"
                )
            if ready():
                return
            time.sleep(0.05)
        raise ComponentStartError(child.name, "start", f"timed out after {timeout_s:.0f}s waiting for {what}")

    def records(self) -> list[ProcessRecord]:
        return [c.record for c in self.children if c.alive()]

    def stop_component(self, name: str) -> None:
        for child in [c for c in self.children if c.name == name]:
            child.stop()
            self.children.remove(child)

    def stop(self) -> None:
        """Stop every component in reverse start order; instances left behind by supervisord are killed."""
        instances: list[ProcessRecord] = []
        with contextlib.suppress(SupervisorError):  # supervisord already gone: nothing more to learn
            instances = [
                ProcessRecord(str(p["name"]), int(p["pid"]), pid_start_time(int(p["pid"])), ())
                for p in self._supervisor.processes()
                if p.get("pid")
            ]
        while self.children:
            self.children.pop().stop()
        for record in instances:
            if process_alive(record):
                stop_pid(record, timeout_s=5.0)
