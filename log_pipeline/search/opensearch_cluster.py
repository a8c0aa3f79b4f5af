"""A real OpenSearch cluster on loopback, started from the jars ``scripts/build_opensearch.sh`` fetched from
Maven Central (``~/.cache/paramedic/opensearch-<version>/{lib,classes}``) — for the live tests and the demo.

Every node is one JVM running ``ParamedicNode`` (``scripts/opensearch/ParamedicNode.java``: OpenSearch's own
``Node`` with the Netty4 transport and the common analysis plugin on the classpath) with a small heap, on free
loopback ports, discovering the others through ``discovery.seed_hosts``. :func:`start_cluster` starts all
nodes at once, polls ``_cluster/health`` until every node has joined and the health is at least yellow, and
stops whatever it started when that fails. Each node is its own process group: :meth:`OpenSearchNode.kill9`
is a real SIGKILL of one node.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from platforms.local.state import free_port

__all__ = [
    "OPENSEARCH_VERSION",
    "OpenSearchCluster",
    "OpenSearchNode",
    "cache_dir",
    "missing_reason",
    "opensearch_cluster",
    "start_cluster",
]

OPENSEARCH_VERSION = "2.19.6"  # the version scripts/build_opensearch.sh pins
_JVM_FLAGS = (
    "-XX:+UseSerialGC",  # two cores shared by many processes: no parallel GC threads
    "-XX:TieredStopAtLevel=1",  # C1 only: faster start, less CPU (a test/demo engine, not a benchmark)
    "-XX:-UsePerfData",
    "-Xss1m",
    "-Dlog4j2.formatMsgNoLookups=true",
    "-Dlog4j2.disable.jmx=true",
)


def cache_dir() -> Path:
    base = Path(os.environ.get("PARAMEDIC_CACHE", Path.home() / ".cache" / "paramedic"))
    return base / f"opensearch-{OPENSEARCH_VERSION}"


def missing_reason() -> str | None:
    """None when the jars and the launcher are built; else why not (the build's error when it kept one)."""
    home = cache_dir()
    if (home / "BUILT.txt").exists() and (home / "classes" / "ParamedicNode.class").exists():
        return None
    error = home / "BUILD_ERROR.txt"
    why = error.read_text().strip() if error.exists() else "scripts/build_opensearch.sh has not run"
    return f"OpenSearch {OPENSEARCH_VERSION} not built in {home}: {why}"


@dataclass
class OpenSearchNode:
    name: str
    http_port: int
    transport_port: int
    popen: subprocess.Popen[bytes]
    log_path: Path
    argv: list[str] = field(default_factory=list)
    cwd: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def kill9(self) -> None:
        """SIGKILL the node (its process group): no shutdown hook, no flush."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(30)

    def restart(self) -> None:
        """Start the node again with the same settings and data (after :meth:`kill9` or :meth:`stop`)."""
        if self.alive:
            raise RuntimeError(f"{self.name} is still running")
        self.popen = _spawn(self.argv, self.cwd, self.log_path)

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill9()


@dataclass
class OpenSearchCluster:
    name: str
    nodes: list[OpenSearchNode] = field(default_factory=list)
    started_s: float = 0.0  # wall time from the first JVM's start to the cluster's health

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    @property
    def live_urls(self) -> list[str]:
        return [n.url for n in self.nodes if n.alive]

    def health(self, timeout_s: float = 5.0) -> dict[str, object] | None:
        """``_cluster/health`` from the first live node that answers; None when none does."""
        for url in self.live_urls:
            try:
                resp = httpx.get(f"{url}/_cluster/health", timeout=timeout_s)
            except httpx.HTTPError:
                continue
            if resp.status_code == 200:
                body: dict[str, object] = resp.json()
                return body
        return None

    def wait_healthy(
        self, nodes: int, timeout_s: float, statuses: tuple[str, ...] = ("green", "yellow")
    ) -> None:
        """Poll until ``nodes`` nodes have joined and the health is one of ``statuses``."""
        deadline = time.monotonic() + timeout_s
        last: dict[str, object] | None = None
        while time.monotonic() < deadline:
            for n in self.nodes:
                if not n.alive and n.popen.returncode not in (-signal.SIGKILL, -signal.SIGTERM):
                    raise RuntimeError(f"{n.name} exited with {n.popen.returncode}:\n{n.log_tail()}")
            last = self.health()
            if last is not None and last.get("number_of_nodes") == nodes and last.get("status") in statuses:
                return
            time.sleep(0.25)
        tails = "\n".join(f"--- {n.name}\n{n.log_tail(15)}" for n in self.nodes)
        raise TimeoutError(
            f"OpenSearch cluster not healthy after {timeout_s:.0f}s (last health {last}):\n{tails}"
        )

    def stop(self) -> None:
        for n in self.nodes:
            with contextlib.suppress(Exception):
                n.stop()


def _argv(home: Path, node_home: Path, heap_mb: int, settings: dict[str, str]) -> list[str]:
    cp = f"{home / 'lib'}/*{os.pathsep}{home / 'classes'}"
    jvm = [f"-Xms{heap_mb}m", f"-Xmx{heap_mb}m", f"-Djava.io.tmpdir={node_home / 'tmp'}", *_JVM_FLAGS]
    return ["java", *jvm, "-cp", cp, "ParamedicNode", *(f"-E{k}={v}" for k, v in settings.items())]


def _spawn(argv: list[str], cwd: Path | None, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)


def start_cluster(
    workdir: Path,
    nodes: int = 3,
    heap_mb: int = 256,
    name: str = "paramedic",
    timeout_s: float = 240.0,
    settings: dict[str, str] | None = None,
) -> OpenSearchCluster:
    """Start ``nodes`` nodes (all cluster-manager eligible, all data nodes) and wait for their health;
    ``settings`` add to or override every node's (``-E``) settings."""
    reason = missing_reason()
    if reason is not None:
        raise RuntimeError(reason)
    home = cache_dir()
    ports = [(free_port(), free_port()) for _ in range(nodes)]
    names = [f"{name}-{i}" for i in range(nodes)]
    seeds = ",".join(f"127.0.0.1:{t}" for _, t in ports)
    cluster = OpenSearchCluster(name)
    started = time.monotonic()
    try:
        for node_name, (http, transport) in zip(names, ports, strict=True):
            node_home = workdir / node_name
            (node_home / "config").mkdir(parents=True, exist_ok=True)
            (node_home / "tmp").mkdir(exist_ok=True)
            node_settings = {
                "cluster.name": name,
                "node.name": node_name,
                "path.home": str(node_home),
                "path.data": str(node_home / "data"),
                "http.port": str(http),
                "transport.port": str(transport),
                "discovery.seed_hosts": seeds,
                "cluster.initial_cluster_manager_nodes": ",".join(names),
                "action.auto_create_index": "true",
                "logger.level": "WARN",
                **(settings or {}),
            }
            log_path = workdir / f"{node_name}.log"
            argv = _argv(home, node_home, heap_mb, node_settings)
            popen = _spawn(argv, node_home, log_path)
            cluster.nodes.append(OpenSearchNode(node_name, http, transport, popen, log_path, argv, node_home))
        cluster.wait_healthy(nodes, timeout_s)
    except BaseException:
        cluster.stop()
        raise
    cluster.started_s = time.monotonic() - started
    return cluster


@contextlib.contextmanager
def opensearch_cluster(
    workdir: Path, nodes: int = 3, heap_mb: int = 256, settings: dict[str, str] | None = None
) -> Iterator[OpenSearchCluster]:
    """:func:`start_cluster`, yield, stop every node it started."""
    cluster = start_cluster(workdir, nodes, heap_mb, settings=settings)
    try:
        yield cluster
    finally:
        cluster.stop()
