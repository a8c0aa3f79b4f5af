"""The dispatcher of a replicated Paramedic against a real etcd: every notification is first recorded with
the leader's fencing token (a deposed leader sends nothing), and silences, acks and the notification log
are the leader's documents in etcd, which the next leader re-reads."""

from __future__ import annotations

import uuid
from datetime import timedelta

from prometheus_client import CollectorRegistry

from alerting.dispatch import Dispatcher, parse_config, parse_matchers
from paramedic.cluster.etcd import EtcdClient
from paramedic.cluster.node import ClusterNode
from paramedic.cluster.state import EtcdState
from tests.alerting._dispatch_support import Clock, Recorders, alert, no_retry
from tests.support.etcd import EtcdServer

CONFIG = """
route: {receiver: team, group_by: [alertname], group_wait: 0s, group_interval: 1m, repeat_interval: 4h}
receivers:
  - name: team
    notifiers: [{type: test, name: default}]
"""


def _dispatcher(node: ClusterNode, clock: Clock, rec: Recorders, registry: CollectorRegistry) -> Dispatcher:
    return Dispatcher(
        parse_config(CONFIG),
        rec,
        clock=clock,
        registry=registry,
        deliver=no_retry,
        fence=node,
        state=EtcdState(node),
    )


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_leader_notifies_with_its_token_a_deposed_leader_does_not(etcd: EtcdServer) -> None:
    prefix = f"/t/{uuid.uuid4().hex}/"
    client = EtcdClient([etcd.url])
    a = ClusterNode(client, replica_id="a", address="a", prefix=prefix)
    b = ClusterNode(client, replica_id="b", address="b", prefix=prefix)
    a.tick()
    b.tick()
    clock, rec_a, reg_a = Clock(), Recorders(), CollectorRegistry()
    d_a = _dispatcher(a, clock, rec_a, reg_a)
    d_a.put([alert(alertname="Down", instance="1")])
    await d_a.flush_due()
    assert len(rec_a.sent()) == 1
    [entry] = a.records("nflog")
    assert entry["fencing_token"] == a.fencing_token and entry["firing"]

    # a silence and an ack kept by the leader, in etcd
    d_a.silences.set(
        parse_matchers('alertname="Muted"'),
        starts_at=clock(),
        ends_at=clock() + timedelta(hours=1),
        created_by="op",
        comment="maintenance",
    )

    # a loses its lease behind its back; b leads and re-reads the documents
    client.revoke(a._lease)
    b.tick()
    assert b.is_leader
    d_a.put([alert(alertname="Other", instance="2")])
    await d_a.flush_due()
    assert len(rec_a.sent()) == 1  # the stale leader sent nothing
    fenced = {"receiver": "team", "integration": "test", "result": "fenced"}
    assert _sample(reg_a, "paramedic_alerting_notifications_total", **fenced) == 1

    rec_b, reg_b = Recorders(), CollectorRegistry()
    d_b = _dispatcher(b, clock, rec_b, reg_b)
    d_b.reload_state()
    assert [s.comment for s in d_b.silences.all()] == ["maintenance"]
    d_b.put([alert(alertname="Down", instance="1")])  # already notified by a: no repeat before 4h
    d_b.put([alert(alertname="Muted", instance="3")])
    await d_b.flush_due()
    assert rec_b.sent() == []
    d_b.put([alert(alertname="Fresh", instance="4")])  # b does notify what nobody has
    await d_b.flush_due()
    assert [n.group_labels for n in rec_b.sent()] == [{"alertname": "Fresh"}]
    [fresh] = [r for r in b.records("nflog") if "Fresh" in r["groupKey"]]
    assert fresh["fencing_token"] == b.fencing_token > entry["fencing_token"]
    client.close()
