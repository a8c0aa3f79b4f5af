"""``paramedic demo --replicas 3`` with its shared OpenSearch log store, live: the demo's own start of etcd,
the VictoriaMetrics store, the 3-node OpenSearch cluster, three real ``paramedic serve`` replicas and the
HAProxy TCP front (everything but the platform and the load). Syslog lines sent through the front land on
different replicas and each is found by a search on EVERY replica; a viewer of another space finds nothing,
on any replica; stopping the demo leaves no OpenSearch JVM behind."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

import httpx
import pytest

from paramedic.auth import TokenStore
from paramedic.demo import demo_config
from paramedic.demo._config import demo_spaces
from paramedic.demo._credentials import local_space_login
from paramedic.demo._options import DemoOptions
from paramedic.demo._run import _LocalLaunch
from platforms.local.state import free_port
from platforms.tenancy import Grant
from tests.support.servers import require_binary, wait_until

pytestmark = pytest.mark.opensearch

APPS = ["checkout", "catalog"]  # demo/team-a: checkout; demo/team-b: catalog


@dataclass
class Demo:
    launch: _LocalLaunch
    syslog_port: int
    tokens: dict[str, str]
    said: list[str]

    @property
    def apis(self) -> list[str]:
        return [r["api_url"] for r in self.launch.record["replicas"]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    for binary in ("etcd", "victoria-metrics", "haproxy", "java"):
        require_binary(binary)
    data_dir = Path(tmp_path_factory.mktemp("demo-replicas-logs"))
    said: list[str] = []
    opts = DemoOptions(http_port=free_port(), relp_port=free_port(), syslog_port=free_port(), replicas=3)

    def echo(message: str, *, err: bool = False) -> None:
        said.append(message)

    launch = _LocalLaunch(data_dir, echo, opts)
    try:
        base = demo_config(
            data_dir, opts.http_port, 2.0, opts.relp_port, opts.syslog_port, spaces=demo_spaces(APPS)
        )
        launch.write_credentials(local_space_login(base.get("platform") or {}))
        store = TokenStore(data_dir / "tokens.json")
        tokens = {
            space: store.create(f"{space}-viewer", "viewer", grants=[Grant("demo", space, "viewer")])
            for space in ("team-a", "team-b")
        }
        launch._start_replicas(base, opts)
        yield Demo(launch, opts.syslog_port, tokens, said)
    finally:
        launch.stop()


def _send(sock: socket.socket, line: str) -> None:
    data = line.encode()
    sock.sendall(f"{len(data)} ".encode() + data)  # RFC 6587 octet counting


def _cf_line(tenant_app: str, message: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    guid = str(uuid.uuid4())
    return f"<14>1 {stamp} {tenant_app} {guid} [APP/PROC/WEB/0] - - {message}"


@overload
def _hits(api: str, token: str, q: str) -> list[dict[str, Any]]: ...
@overload
def _hits(api: str, token: str, q: str, *, retry_unavailable: bool) -> list[dict[str, Any]] | None: ...
def _hits(api: str, token: str, q: str, *, retry_unavailable: bool = False) -> list[dict[str, Any]] | None:
    """The hits of ``q``; with ``retry_unavailable``, None while the engine answers 503 (a clear
    "unavailable" error from Paramedic, which the caller polls through)."""
    resp = httpx.get(
        f"{api}/api/v1/logs/search",
        params={"q": q, "limit": 50},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10.0,
    )
    if retry_unavailable and resp.status_code == 503:
        assert resp.json()["errorType"] == "unavailable", resp.text
        return None
    assert resp.status_code == 200, resp.text
    hits: list[dict[str, Any]] = resp.json()["data"]["hits"]
    return hits


def test_the_demo_runs_a_3_node_opensearch_and_lists_it(demo: Demo) -> None:
    urls = demo.launch.record["opensearch_urls"]
    assert demo.launch.record["log_store"] == "opensearch" and len(urls) == 3
    health = httpx.get(f"{urls[0]}/_cluster/health", timeout=5.0).json()
    assert health["number_of_nodes"] == 3
    names = {c.name for c in demo.launch.children}
    assert {"opensearch-0", "opensearch-1", "opensearch-2"} <= names
    assert sum(1 for r in demo.launch.record["processes"] if r["name"].startswith("opensearch-")) == 3


def test_lines_through_the_front_are_found_on_every_replica_only_in_their_space(demo: Demo) -> None:
    word = f"w{uuid.uuid4().hex}"
    # three connections open at once: the front (leastconn) hands one to each replica, whose spools all count
    # from 0 -- the shared store must keep all three lines apart
    socks = [socket.create_connection(("127.0.0.1", demo.syslog_port), timeout=5.0) for _ in demo.apis]
    try:
        for i, sock in enumerate(socks):
            _send(sock, _cf_line("demo.team-a.checkout", f"order {i} placed {word}"))
    finally:
        for sock in socks:
            sock.close()
    found: dict[str, list[dict[str, Any]]] = {}

    def everywhere() -> bool:
        for api in demo.apis:
            hits = _hits(api, demo.tokens["team-a"], word, retry_unavailable=True)
            if hits is None:  # the day's new index still starting its shards: the engine says 503, ask again
                return False
            found[api] = hits
        return all(len(h) == len(socks) for h in found.values())

    wait_until(everywhere, 30.0, "every line found by a search on every replica", interval_s=0.5)
    ids = {tuple(sorted(h["id"] for h in hits)) for hits in found.values()}
    assert len(ids) == 1  # every replica sees the same records
    (same,) = ids
    assert {i.split("-")[0] for i in same} == {"r1", "r2", "r3"}  # one line received by each replica
    for hits in found.values():
        assert sorted(h["message"] for h in hits) == [f"order {i} placed {word}" for i in range(len(socks))]
        assert {(h["labels"]["org"], h["labels"]["space"]) for h in hits} == {("demo", "team-a")}
    # the viewer of the other space finds nothing on any replica, by the word or by the app
    for api in demo.apis:
        assert _hits(api, demo.tokens["team-b"], word) == []
        assert _hits(api, demo.tokens["team-b"], "app:checkout") == []


def test_stopping_the_demo_leaves_no_opensearch_jvm(demo: Demo) -> None:
    nodes = [c for c in demo.launch.children if c.name.startswith("opensearch-")]
    assert nodes and all(c.alive() for c in nodes)
    demo.launch.stop()
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(c.alive() for c in demo.launch.children):
        time.sleep(0.1)
    assert [c.name for c in demo.launch.children if c.alive()] == []
