"""Membership, election and fenced writes against a real etcd (each test under its own key prefix)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from paramedic.cluster.etcd import EtcdClient
from paramedic.cluster.node import ClusterNode
from tests.support.etcd import EtcdServer
from tests.support.servers import wait_until


@pytest.fixture
def client(etcd: EtcdServer) -> Iterator[EtcdClient]:
    c = EtcdClient([etcd.url])
    yield c
    c.close()


def _node(
    client: EtcdClient, prefix: str, rid: str, ttl_s: int = 10, registry: CollectorRegistry | None = None
) -> ClusterNode:
    return ClusterNode(
        client,
        replica_id=rid,
        address=f"http://{rid}",
        ttl_s=ttl_s,
        prefix=prefix,
        registry=registry or CollectorRegistry(),
    )


def _prefix() -> str:
    return f"/t/{uuid.uuid4().hex}/"


def test_one_leader_the_others_follow_with_its_token(client: EtcdClient) -> None:
    prefix = _prefix()
    reg_a, reg_b = CollectorRegistry(), CollectorRegistry()
    a, b = _node(client, prefix, "a", registry=reg_a), _node(client, prefix, "b", registry=reg_b)
    a.tick()
    b.tick()
    a.tick()
    assert a.is_leader and not b.is_leader
    assert reg_a.get_sample_value("paramedic_cluster_is_leader") == 1
    assert reg_b.get_sample_value("paramedic_cluster_is_leader") == 0
    assert reg_a.get_sample_value("paramedic_cluster_fencing_token") == a.fencing_token
    assert reg_b.get_sample_value("paramedic_cluster_fencing_token") == a.fencing_token
    assert reg_a.get_sample_value("paramedic_cluster_members") == 2
    assert reg_a.get_sample_value("paramedic_cluster_elections_won_total") == 1
    assert b.leader is not None and b.leader.id == "a"
    assert b.leader.fencing_token == a.fencing_token > 0
    assert a.member_ids() == b.member_ids() == ["a", "b"]
    a.stop()
    b.stop()


def test_fenced_write_carries_the_token_and_a_deposed_leader_is_refused_by_etcd(client: EtcdClient) -> None:
    prefix = _prefix()
    reg_a = CollectorRegistry()
    a, b = _node(client, prefix, "a", registry=reg_a), _node(client, prefix, "b")
    a.tick()
    b.tick()
    old = a.fencing_token
    assert a.commit("journal", "x1", {"what": "restart"})
    # a's lease ends behind its back (as when it is stopped past its TTL); b takes over
    client.revoke(a._lease)
    b.tick()
    assert b.is_leader and b.fencing_token > old
    # a still believes it leads: the refusal comes from etcd's compare, not from a local flag
    assert a.is_leader
    assert not a.commit("journal", "x2", {"what": "restart again"})
    assert not a.is_leader  # refused once, it stops believing
    refused = {"kind": "journal", "outcome": "refused"}
    assert reg_a.get_sample_value("paramedic_cluster_fenced_writes_total", refused) == 1
    assert b.commit("journal", "x3", {"what": "report"})
    records = {r["what"]: r for r in b.records("journal")}
    assert set(records) == {"restart", "report"}
    assert records["restart"]["fencing_token"] == old
    assert records["report"]["fencing_token"] == b.fencing_token
    assert records["report"]["leader"] == "b"
    a.stop()
    b.stop()


def test_follower_takes_over_within_ttl_plus_a_tick_when_the_leader_stops_renewing(
    client: EtcdClient,
) -> None:
    prefix = _prefix()
    a, b = _node(client, prefix, "a", ttl_s=2), _node(client, prefix, "b", ttl_s=2)
    a.tick()  # a leads but never renews again (its thread is never started)
    b.start()
    t0 = time.monotonic()
    wait_until(lambda: b.is_leader, timeout_s=10, what="b to take over")
    took = time.monotonic() - t0
    assert took <= 2 + b.tick_s + 1.0
    wait_until(lambda: b.member_ids() == ["b"], timeout_s=5, what="a to leave the membership")
    assert [m.id for m in b.members() if not m.alive] == ["a"]
    b.stop()


def test_leaving_revokes_the_lease_at_once(client: EtcdClient) -> None:
    prefix = _prefix()
    a, b = _node(client, prefix, "a"), _node(client, prefix, "b")
    a.tick()
    b.tick()
    a.stop()
    b.tick()
    assert b.is_leader
    assert b.member_ids() == ["b"]
    b.stop()


def test_targets_owned_are_registered(client: EtcdClient) -> None:
    prefix = _prefix()
    a = _node(client, prefix, "a")
    a.set_targets_owned(7)
    a.tick()
    assert [m.targets_owned for m in a.members()] == [7]
    a.stop()
