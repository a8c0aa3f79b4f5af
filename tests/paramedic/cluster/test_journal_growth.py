"""What keeps etcd from growing without bound and followers from re-reading everything: notification-log
records bound to retention leases, and the audit journal read incrementally (real etcd)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from paramedic.cluster.base import KeyValue, StoreUnavailableError
from paramedic.cluster.etcd import EtcdClient
from paramedic.cluster.node import ClusterNode
from remediation.audit.fenced import FencedAuditLog, FencedOutError
from remediation.model import ActionRequest, AuditEvent, Target
from tests.support.etcd import EtcdServer

T0 = datetime(2026, 12, 6, tzinfo=UTC)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Counting:
    """The etcd client, counting the keys each range read returned."""

    def __init__(self, inner: EtcdClient) -> None:
        self.inner = inner
        self.read: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get_range(self, start: bytes, end: bytes) -> list[KeyValue]:
        kvs = self.inner.get_range(start, end)
        self.read.append(len(kvs))
        return kvs


@pytest.fixture
def client(etcd: EtcdServer) -> Iterator[EtcdClient]:
    c = EtcdClient([etcd.url])
    yield c
    c.close()


def _node(store: Any, prefix: str, rid: str, clock: _Clock | None = None) -> ClusterNode:
    return ClusterNode(
        store,
        replica_id=rid,
        address=f"http://{rid}",
        ttl_s=10,
        prefix=prefix,
        registry=CollectorRegistry(),
        clock=clock or _Clock(),
    )


def _leader(store: Any, prefix: str, clock: _Clock | None = None) -> ClusterNode:
    node = _node(store, prefix, "r1", clock)
    node.tick()
    assert node.is_leader
    return node


def _lease_ttl(etcd: EtcdServer, lease: int) -> int:
    answer = httpx.post(f"{etcd.url}/v3/lease/timetolive", json={"ID": str(lease)}, timeout=5).json()
    return int(answer.get("TTL", -1))


def test_notification_log_records_expire_with_a_retention_lease(etcd: EtcdServer, client: EtcdClient) -> None:
    prefix = f"/t/{uuid.uuid4().hex}/"
    clock = _Clock()
    node = _leader(client, prefix, clock)
    try:
        assert node.commit("nflog", "a", {"n": 1}, ttl_s=432_000)
        assert node.commit("nflog", "b", {"n": 2}, ttl_s=432_000)
        assert node.commit("audit", "0000000000000001", {"n": 3})  # the journal: kept
        kvs = {kv.key.rsplit(b"/", 1)[1]: kv for kv in client.get_prefix(f"{prefix}fenced/".encode())}
        lease = kvs[b"a"].lease
        assert lease and kvs[b"b"].lease == lease and kvs[b"0000000000000001"].lease == 0
        assert 432_000 < _lease_ttl(etcd, lease) <= 432_000 + 3600  # never renewed: it runs out
        clock.now += 3601  # an hour later the next records go to a new lease
        assert node.commit("nflog", "c", {"n": 4}, ttl_s=432_000)
        later = [kv for kv in client.get_prefix(f"{prefix}fenced/nflog/".encode()) if kv.key.endswith(b"/c")]
        assert later[0].lease not in (0, lease)
        client.revoke(lease)  # what etcd does when the lease's TTL runs out
        left = sorted(kv.key.rsplit(b"/", 1)[1] for kv in client.get_prefix(f"{prefix}fenced/".encode()))
        assert left == [b"0000000000000001", b"c"]
    finally:
        node.stop()


def _request(i: int) -> ActionRequest:
    return ActionRequest(f"a{i}", "p", "abc", "restart_app", Target("web"), {}, "live", T0)


def test_a_follower_reads_only_what_was_added(client: EtcdClient) -> None:
    prefix = f"/t/{uuid.uuid4().hex}/"
    node = _leader(client, prefix)
    counting = _Counting(client)
    reader_node = _node(counting, prefix, "r2")
    try:
        leader = FencedAuditLog(node)
        leader.reload()
        for i in range(20):
            leader.record(_request(i))
        clock = _Clock()
        follower = FencedAuditLog(reader_node, max_age_s=2.0, clock=clock)
        assert len(follower.query(limit=1000)) == 20
        assert counting.read == [40]  # the first read: everything (a request and its "requested" each)
        leader.record(_request(20))
        leader.append(AuditEvent("a3", "started", T0, {}))
        clock.now += 2.0
        assert len(follower.query(limit=1000)) == 21
        assert follower.get("a3") is not None and follower.get("a3").status == "running"  # type: ignore[union-attr]
        assert counting.read == [40, 3]  # then only the new records
        clock.now += 2.0
        follower.query(limit=1)
        assert counting.read == [40, 3, 0]
    finally:
        node.stop()


class _LostAnswer:
    """The etcd client, whose next transaction is applied but answered with an error (a timeout after the
    commit, a failover to the next endpoint)."""

    def __init__(self, inner: EtcdClient) -> None:
        self.inner = inner
        self.lose_next = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def txn(self, compares: list[Any], puts: list[Any]) -> Any:
        res = self.inner.txn(compares, puts)
        if self.lose_next:
            self.lose_next = False
            raise StoreUnavailableError("etcd /v3/kv/txn: read timed out")
        return res


def test_a_journal_key_is_never_rewritten_after_a_lost_answer(client: EtcdClient) -> None:
    """A write whose answer was lost did land: the next write must not overwrite it (a follower that read it
    would never see the record that replaced it); it goes after it, and every mirror agrees with etcd."""
    prefix = f"/t/{uuid.uuid4().hex}/"
    lossy = _LostAnswer(client)
    node = _leader(lossy, prefix)
    follower_node = _node(client, prefix, "r2")
    try:
        leader = FencedAuditLog(node)
        leader.reload()
        leader.record(_request(0))
        lossy.lose_next = True
        with pytest.raises(FencedOutError):
            leader.record(_request(1))  # landed in etcd, but the leader was told it failed
        clock = _Clock()
        follower = FencedAuditLog(follower_node, clock=clock)
        assert follower.get("a1") is not None  # the follower reads what etcd holds
        leader.record(_request(2))  # the key the lost write took is not overwritten
        assert node.is_leader  # a taken key is not a lost lead
        stored = [json.loads(kv.value) for kv in client.get_prefix(f"{prefix}fenced/audit/".encode())]
        assert [r["seq"] for r in stored] == list(range(1, len(stored) + 1))  # no gap, no rewrite
        kinds = [(r.get("request") or {}).get("id") or r.get("action_id") for r in stored]
        assert kinds.count("a1") == 1 and "a2" in kinds
        clock.now += 2.0
        assert {r.request.id for r in follower.query(limit=10)} == {"a0", "a1", "a2"}
        assert {r.request.id for r in leader.query(limit=10)} == {"a0", "a1", "a2"}
    finally:
        node.stop()
