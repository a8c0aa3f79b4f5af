"""A real VictoriaMetrics cluster on loopback: N vmstorage, M vminsert, one vmselect, ``-replicationFactor``.

The binaries come from ``scripts/build_vmcluster.sh`` (Go module proxy, cached under
``~/.cache/paramedic/vmcluster-<version>/bin``). When they are missing, tests marked ``vmcluster`` are not run
and the session ends with one loud line quoting the build's exact error (``BUILD_ERROR.txt``) — the same way
``reference_data`` reports missing data (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.servers import ManagedProcess, free_port, wait_http

REPO = Path(__file__).resolve().parent.parent.parent
BUILD_SCRIPT = REPO / "scripts" / "build_vmcluster.sh"
APPS = ("vminsert", "vmselect", "vmstorage")


def pinned_version() -> str:
    """The release ``scripts/build_vmcluster.sh`` pins (one source of truth)."""
    m = re.search(r'VMCLUSTER_VERSION:-([^}"]+)', BUILD_SCRIPT.read_text())
    if m is None:
        raise RuntimeError(f"{BUILD_SCRIPT}: no pinned VMCLUSTER_VERSION default")
    return os.environ.get("VMCLUSTER_VERSION", m.group(1))


def cache_dir() -> Path:
    base = Path(os.environ.get("PARAMEDIC_CACHE", Path.home() / ".cache" / "paramedic"))
    return base / f"vmcluster-{pinned_version()}"


def missing_reason() -> str | None:
    """None when all three binaries are built; else why not (the build's own error when it kept one)."""
    bin_dir = cache_dir() / "bin"
    missing = [a for a in APPS if not os.access(bin_dir / a, os.X_OK)]
    if not missing:
        return None
    error = cache_dir() / "BUILD_ERROR.txt"
    why = error.read_text().strip() if error.exists() else "scripts/build_vmcluster.sh has not run"
    return f"{', '.join(missing)} missing in {bin_dir}: {why}"


@dataclass
class Node:
    name: str
    proc: ManagedProcess
    http_port: int
    insert_port: int = 0  # vmstorage: -vminsertAddr
    select_port: int = 0  # vmstorage: -vmselectAddr

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def alive(self) -> bool:
        return self.proc.popen.poll() is None


@dataclass
class VMCluster:
    storages: list[Node] = field(default_factory=list)
    inserts: list[Node] = field(default_factory=list)
    select: Node | None = None

    @property
    def insert_urls(self) -> list[str]:
        return [n.url for n in self.inserts]

    @property
    def select_url(self) -> str:
        assert self.select is not None
        return self.select.url

    def flush(self) -> None:
        """Make every acknowledged sample searchable on the live vmstorage nodes."""
        for node in self.storages:
            if node.alive:
                httpx.get(f"{node.url}/internal/force_flush", timeout=10).raise_for_status()

    def kill9_storage(self, index: int) -> None:
        self.storages[index].proc.kill9()

    def stop(self) -> None:
        for node in [*([self.select] if self.select else []), *self.inserts, *self.storages]:
            with contextlib.suppress(Exception):
                node.proc.stop()


@contextlib.contextmanager
def vm_cluster(
    workdir: Path, storages: int = 3, inserts: int = 2, replication_factor: int = 2
) -> Iterator[VMCluster]:
    """Start the cluster (every node polled on ``/health``), yield it, stop every node it started."""
    reason = missing_reason()
    if reason is not None:
        raise RuntimeError(f"VictoriaMetrics cluster not built: {reason}")
    bin_dir = cache_dir() / "bin"
    cluster = VMCluster()
    try:
        for i in range(storages):
            http, ins, sel = free_port(), free_port(), free_port()
            argv = [
                str(bin_dir / "vmstorage"),
                f"-storageDataPath={workdir / f'storage{i}'}",
                f"-httpListenAddr=127.0.0.1:{http}",
                f"-vminsertAddr=127.0.0.1:{ins}",
                f"-vmselectAddr=127.0.0.1:{sel}",
                "-retentionPeriod=100y",
                "-dedup.minScrapeInterval=1ms",
            ]
            proc = ManagedProcess(f"vmstorage{i}", argv, workdir / f"vmstorage{i}.log")
            cluster.storages.append(Node(f"vmstorage{i}", proc, http, ins, sel))
        for n in cluster.storages:
            wait_http(f"{n.url}/health", 30.0, n.proc)
        rf = f"-replicationFactor={replication_factor}"
        insert_nodes = ",".join(f"127.0.0.1:{n.insert_port}" for n in cluster.storages)
        for i in range(inserts):
            http = free_port()
            argv = [
                str(bin_dir / "vminsert"),
                f"-httpListenAddr=127.0.0.1:{http}",
                f"-storageNode={insert_nodes}",
                rf,
            ]
            proc = ManagedProcess(f"vminsert{i}", argv, workdir / f"vminsert{i}.log")
            cluster.inserts.append(Node(f"vminsert{i}", proc, http))
        http = free_port()
        argv = [
            str(bin_dir / "vmselect"),
            f"-httpListenAddr=127.0.0.1:{http}",
            f"-storageNode={','.join(f'127.0.0.1:{n.select_port}' for n in cluster.storages)}",
            rf,
            "-dedup.minScrapeInterval=1ms",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-search.tenantCacheExpireDuration=0",  # multitenant reads see a tenant as soon as it exists
            f"-cacheDataPath={workdir / 'vmselect-cache'}",
        ]
        cluster.select = Node("vmselect", ManagedProcess("vmselect", argv, workdir / "vmselect.log"), http)
        for n in [*cluster.inserts, cluster.select]:
            wait_http(f"{n.url}/health", 30.0, n.proc)
        yield cluster
    finally:
        cluster.stop()
