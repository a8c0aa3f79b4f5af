"""A follower's leader proxy against a hostile etcd peer and a hostile leader (real etcd, a real loopback
HTTP server as the "leader"): the caller's credentials go only to a live member's registered address; a
malformed key does not end the membership; the leader's answer is bounded in size and time; an odd path is
a 404, never a 500 and never a rewritten path on the leader."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from paramedic.cluster.api import install_leader_proxy
from paramedic.cluster.base import Put
from paramedic.cluster.etcd import EtcdClient
from paramedic.cluster.node import ClusterNode
from tests.support.etcd import EtcdServer

SECRET = "Bearer pmd_s3cret-token-of-the-caller"
MAX_BYTES = 256 * 1024
TIMEOUT_S = 1.0


class _Leader(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]]  # (path, authorization) of every request received

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("authorization", "")))
        if "big" in self.path:
            body = b"x" * (4 * MAX_BYTES)
        elif "slow" in self.path:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(100):  # one byte every 0.1 s: each read is quick, the whole is 10 s
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)
            return
        else:
            body = json.dumps({"status": "success", "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def leader_server() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    seen: list[tuple[str, str]] = []
    handler = type("Handler", (_Leader,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(etcd: EtcdServer) -> Iterator[EtcdClient]:
    c = EtcdClient([etcd.url])
    yield c
    c.close()


def _node(client: EtcdClient, prefix: str, rid: str, address: str) -> ClusterNode:
    return ClusterNode(client, replica_id=rid, address=address, prefix=prefix, registry=CollectorRegistry())


def _follower_app(node: ClusterNode) -> FastAPI:
    app = FastAPI()
    install_leader_proxy(app, node, timeout_s=TIMEOUT_S, max_response_bytes=MAX_BYTES)
    return app


async def _get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://follower") as c:
        return await c.get(path, headers={"Authorization": SECRET})


async def test_a_leader_key_no_replica_registered_gets_no_credentials(
    client: EtcdClient, leader_server: tuple[str, list[tuple[str, str]]]
) -> None:
    evil_url, seen = leader_server
    prefix = f"/t/{uuid.uuid4().hex}/"
    # A hostile etcd peer writes the leader key (no lease, no member key) pointing at its own server.
    doc = json.dumps({"id": "evil", "address": evil_url}).encode()
    client.txn([], [Put(prefix.encode() + b"leader", doc)])
    b = _node(client, prefix, "b", "http://127.0.0.1:9")
    b.tick()
    assert not b.is_leader and b.leader is not None and b.leader.address == evil_url
    before = len(seen)
    resp = await _get(_follower_app(b), "/api/v2/alerts")
    assert resp.status_code == 503
    assert seen[before:] == []  # nothing, let alone the caller's token, reached the unregistered address
    b.stop()


def test_a_malformed_member_key_does_not_end_the_membership(client: EtcdClient) -> None:
    prefix = f"/t/{uuid.uuid4().hex}/"
    a, b = _node(client, prefix, "a", "http://a"), _node(client, prefix, "b", "http://b")
    a.tick()
    for name, raw in ((b"zz", b"not json"), (b"zy", b"[1, 2]"), (b"zx", b'{"id": "x"}')):
        client.txn([], [Put(prefix.encode() + b"members/" + name, raw)])
    b.tick()  # raised on the first malformed document before
    assert b.member_ids() == ["a", "b"]
    a.stop()
    b.stop()


@pytest.fixture
def pair(
    client: EtcdClient, leader_server: tuple[str, list[tuple[str, str]]]
) -> Iterator[tuple[FastAPI, list[tuple[str, str]]]]:
    url, seen = leader_server
    prefix = f"/t/{uuid.uuid4().hex}/"
    a, b = _node(client, prefix, "a", url), _node(client, prefix, "b", "http://127.0.0.1:9")
    a.tick()
    b.tick()
    assert a.is_leader and not b.is_leader
    yield _follower_app(b), seen
    a.stop()
    b.stop()


async def test_a_registered_leader_gets_the_request_as_sent(
    pair: tuple[FastAPI, list[tuple[str, str]]],
) -> None:
    app, seen = pair
    resp = await _get(app, "/api/v2/alerts?filter=a%3Db")
    assert resp.status_code == 200
    assert seen[-1] == ("/api/v2/alerts?filter=a%3Db", SECRET)


async def test_dot_segments_are_not_found_never_a_rewritten_path(
    pair: tuple[FastAPI, list[tuple[str, str]]],
) -> None:
    app, seen = pair
    before = len(seen)
    resp = await _get(app, "/api/v2/x/%2e%2e/%2e%2e/v1/query")  # /api/v1/query on the leader before
    assert resp.status_code == 404
    assert seen[before:] == []


@pytest.mark.parametrize("path", ["/api/v2/a%0d%0aHost:%20evil", "/api/v2/%00", "/api/v2/%3F%23x"])
async def test_encoded_control_bytes_reach_the_leader_still_encoded(
    path: str, pair: tuple[FastAPI, list[tuple[str, str]]]
) -> None:
    app, seen = pair
    resp = await _get(app, path)  # a decoded CR LF made the proxy raise (500) before
    assert resp.status_code == 200
    assert seen[-1] == (path, SECRET)


async def test_an_oversized_answer_is_a_502(pair: tuple[FastAPI, list[tuple[str, str]]]) -> None:
    app, _ = pair
    resp = await _get(app, "/api/v2/big")
    assert resp.status_code == 502
    assert len(resp.content) < MAX_BYTES


async def test_a_trickling_leader_is_cut_at_the_timeout(pair: tuple[FastAPI, list[tuple[str, str]]]) -> None:
    app, _ = pair
    t0 = time.monotonic()
    resp = await _get(app, "/api/v2/slow")
    assert resp.status_code == 503
    assert time.monotonic() - t0 < TIMEOUT_S + 2.0
