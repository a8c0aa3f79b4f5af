"""A real local platform (HAProxy, supervisord, node exporter, sample apps) shared by the platform tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from platforms.local import LocalPlatform, LocalPlatformRunner, PlatformState
from tests.support.servers import require_binary

APPS = {"checkout": 3, "catalog": 2}


@dataclass
class RunningPlatform:
    runner: LocalPlatformRunner
    platform: LocalPlatform
    state: PlatformState
    registry: CollectorRegistry
    root: Path

    @property
    def router(self) -> str:
        return f"http://127.0.0.1:{self.state.router_port}"

    def via_router(self, app: str, path: str = "/", timeout_s: float = 5.0) -> httpx.Response:
        return httpx.get(f"{self.router}{path}", headers={"Host": f"{app}.local"}, timeout=timeout_s)

    def router_samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """Samples of ``name`` from HAProxy's built-in Prometheus exporter."""
        text = httpx.get(f"http://127.0.0.1:{self.state.stats_port}/metrics", timeout=5).text
        return [
            (s.labels, s.value)
            for fam in text_string_to_metric_families(text)
            for s in fam.samples
            if s.name == name
        ]


@contextlib.contextmanager
def running_platform(root: Path, apps: dict[str, int]) -> Iterator[RunningPlatform]:
    """Start a platform with ``apps`` (name -> instances) in ``root``; stopped on exit."""
    registry = CollectorRegistry()
    runner = LocalPlatformRunner(
        root,
        haproxy=require_binary("haproxy"),
        node_exporter=require_binary("prometheus-node-exporter"),
        registry=registry,
    )
    state = runner.init(apps)
    runner.start(timeout_s=30)
    try:
        yield RunningPlatform(runner, LocalPlatform(root, registry=registry), state, registry, root)
    finally:
        runner.stop()


@pytest.fixture(scope="module")
def local_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("plat"), APPS) as platform:
        yield platform


@pytest.fixture(scope="module")
def small_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    """One app, ``shop``, with 2 instances: for tests that double its instances (blue-green)."""
    with running_platform(tmp_path_factory.mktemp("plat"), {"shop": 2}) as platform:
        yield platform
