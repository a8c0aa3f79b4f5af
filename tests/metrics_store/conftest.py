"""Store fixtures: a session-wide real VictoriaMetrics and one ``Backend`` per store implementation."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from prometheus_client import CollectorRegistry

from metrics_store.base import MetricsStore
from metrics_store.config import EmbeddedStoreConfig, RemoteStoreConfig, VMClusterConfig, VMTenantConfig
from metrics_store.embedded import EmbeddedStore
from metrics_store.memory import MemoryStore
from metrics_store.remote import RemoteStore
from tests.support.servers import free_port, require_binary, running, wait_until
from tests.support.vmcluster import VMCluster, vm_cluster

T = TypeVar("T")

BACKENDS = ["memory", "embedded", "embedded_db", "remote", "vmcluster"]
BACKEND_MARKS: dict[str, list[pytest.MarkDecorator]] = {"vmcluster": [pytest.mark.vmcluster]}
POLLED = ("remote", "vmcluster")  # backends whose writes become visible later (poll up to 20 s)


@dataclass
class VictoriaMetrics:
    url: str

    def flush(self) -> None:
        httpx.get(f"{self.url}/internal/force_flush", timeout=10).raise_for_status()


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    binary = require_binary("victoria-metrics")
    d = tmp_path_factory.mktemp("vm")
    port = free_port()
    argv = [
        binary,
        f"-storageDataPath={d / 'data'}",
        f"-httpListenAddr=127.0.0.1:{port}",
        "-retentionPeriod=100y",
        "-search.latencyOffset=0s",
        "-search.disableCache",
        "-search.cacheTimestampOffset=0s",
    ]
    with running("victoria-metrics", argv, d / "vm.log", ready_url=f"http://127.0.0.1:{port}/health"):
        yield VictoriaMetrics(f"http://127.0.0.1:{port}")


@pytest.fixture(scope="module")
def vmcluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VMCluster]:
    """2 vminsert, 1 vmselect, 3 vmstorage with -replicationFactor=2; one per test module (a module may
    kill nodes of its own)."""
    with vm_cluster(tmp_path_factory.mktemp("vmcluster")) as cluster:
        yield cluster


def cluster_config(cluster: VMCluster, **kw: object) -> RemoteStoreConfig:
    """A remote store config for ``cluster``: org acme has account 1 (prod: project 1, dev: 2), globex 2."""
    tenants = [
        VMTenantConfig(org="acme", account_id=1, spaces={"prod": 1, "dev": 2}),
        VMTenantConfig(org="globex", account_id=2),
    ]
    return RemoteStoreConfig.model_validate(
        {
            "type": "remote",
            "cluster": VMClusterConfig(
                insert_urls=cluster.insert_urls, select_urls=[cluster.select_url], tenants=tenants
            ),
            **kw,
        }
    )


@dataclass
class Backend:
    """A store under test plus how to wait until its writes are visible to queries."""

    kind: str
    store: MetricsStore
    settle: Callable[[], None]
    prefix: str  # unique metric-name prefix: the VictoriaMetrics instance is shared by the whole session
    base_ms: int  # a timestamp the backend accepts (VM refuses samples far from now)

    def query(self, fn: Callable[[], T], ready: Callable[[T], bool]) -> T:
        """``fn()`` once the backend shows the data (``ready``); remote polls up to 20 s, others ask once."""
        self.settle()
        if self.kind not in POLLED:
            return fn()
        result: list[T] = []

        def check() -> bool:
            self.settle()
            result[:] = [fn()]
            return ready(result[0])

        wait_until(check, 20.0, "VictoriaMetrics to show the written samples", interval_s=0.1)
        return result[0]

    def name(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"


def _base_ms() -> int:
    return (int(time.time()) - 3600) // 60 * 60 * 1000


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    kind: str = request.param
    prefix = "t" + uuid.uuid4().hex[:10]
    registry = CollectorRegistry()
    store: MetricsStore
    settle: Callable[[], None] = lambda: None  # noqa: E731
    if kind == "memory":
        store = MemoryStore()
    elif kind in ("embedded", "embedded_db"):
        emb = EmbeddedStore(tmp_path / "store", EmbeddedStoreConfig(), registry=registry, background=False)
        store = emb
        if kind == "embedded_db":

            def settle() -> None:
                emb.checkpoint()

    elif kind == "vmcluster":
        cluster: VMCluster = request.getfixturevalue("vmcluster")
        store = RemoteStore(cluster_config(cluster), registry=registry)
        settle = cluster.flush
    else:
        vm: VictoriaMetrics = request.getfixturevalue("victoria_metrics")
        store = RemoteStore(
            RemoteStoreConfig(type="remote", write_url=vm.url, read_url=vm.url), registry=registry
        )
        settle = vm.flush
    try:
        yield Backend(kind, store, settle, prefix, _base_ms())
    finally:
        store.close()
