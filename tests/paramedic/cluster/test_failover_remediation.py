"""Failover of remediation across replicas, with real processes and a real etcd.

1. kill -9 the leader in the middle of a restart (the platform call recorded, never finished): a new leader
   takes over within 15 s, recovers the action from the shared journal and reports it ``interrupted`` once;
   the restart is applied once (counted on the platform's side), and a later leader reports nothing again.
2. SIGSTOP the leader while it acts in a loop; a follower takes over; SIGCONT: the stale leader's next
   journal write is refused by etcd and it exits; it made no platform call without a journal entry committed
   under its own (older) token, and none after the new leader's election.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from paramedic.cluster.etcd import EtcdClient
from paramedic.cluster.node import ClusterNode
from paramedic.cluster.service import DEPOSED_EXIT_STATUS
from remediation.audit.fenced import FencedAuditLog
from remediation.sim import SimPlatform
from tests.paramedic.cluster._leader_child import TTL_S
from tests.remediation._support import REPO, alert, engine, kinds, policy
from tests.support.etcd import EtcdServer
from tests.support.servers import wait_until


def _child(etcd: EtcdServer, prefix: str, workdir: Path, replica: str, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.paramedic.cluster._leader_child",
            etcd.url,
            prefix,
            str(workdir),
            replica,
            mode,
        ],
        cwd=REPO,
        stdout=(workdir / f"{replica}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def _calls(path: Path, name: str = "restart_app") -> int:
    if not path.exists():
        return 0
    return sum(json.loads(ln).get("call") == name for ln in path.read_text().splitlines() if ln.strip())


def _node(etcd: EtcdServer, prefix: str, rid: str) -> ClusterNode:
    return ClusterNode(EtcdClient([etcd.url]), replica_id=rid, address=rid, ttl_s=TTL_S, prefix=prefix)


async def test_kill9_leader_mid_action_applied_once_reported_once(etcd: EtcdServer, tmp_path: Path) -> None:
    prefix = f"/t/{uuid.uuid4().hex}/"
    child = _child(etcd, prefix, tmp_path, "a", "hang")
    calls_a = tmp_path / "calls-a.jsonl"
    try:
        wait_until(lambda: _calls(calls_a) == 1, 30, "the leader's restart call")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    killed = time.monotonic()
    token_a = int((tmp_path / "a.leading").read_text())

    b = _node(etcd, prefix, "b")
    b.start()
    try:
        wait_until(lambda: b.is_leader, 15, "b to take over")
        took = time.monotonic() - killed
        assert took <= 15.0
        assert b.fencing_token > token_a
        audit = FencedAuditLog(b)
        audit.reload()
        plat_b = SimPlatform({"web": 2}, record_to=tmp_path / "calls-b.jsonl")
        eng = engine([policy(verify={"deadline": 0.1, "on_failure": "escalate"})], plat_b, audit=audit)
        [rec] = await eng.recover()
        assert kinds(rec)[:3] == ["requested", "started", "interrupted"]
        assert await eng.drain(5)
        assert await eng.handle([alert()]) == []  # the same occurrence is a known request: not applied again
        records = b.records("audit")
        by_kind = [(r.get("kind") or r["type"], r["fencing_token"], r["leader"]) for r in records]
        assert ("started", token_a, "a") in by_kind
        assert [k for k in by_kind if k[0] == "interrupted"] == [("interrupted", b.fencing_token, "b")]
    finally:
        b.stop()

    # a third leader finds nothing open: the report is not repeated
    c = _node(etcd, prefix, "c")
    c.start()
    try:
        wait_until(lambda: c.is_leader, 15, "c to lead")
        audit_c = FencedAuditLog(c)
        audit_c.reload()
        eng_c = engine(
            [policy()], SimPlatform({"web": 2}, record_to=tmp_path / "calls-c.jsonl"), audit=audit_c
        )
        assert await eng_c.recover() == []
        assert sum(r.get("kind") == "interrupted" for r in c.records("audit")) == 1
    finally:
        c.stop()
    # applied once, on the platform's side, across every replica
    assert _calls(calls_a) + _calls(tmp_path / "calls-b.jsonl") + _calls(tmp_path / "calls-c.jsonl") == 1
    print(f"kill -9 mid-action: new leader after {took:.2f} s (lease TTL {TTL_S} s)")


async def test_sigstopped_leader_is_refused_by_etcd_after_sigcont(etcd: EtcdServer, tmp_path: Path) -> None:
    prefix = f"/t/{uuid.uuid4().hex}/"
    child = _child(etcd, prefix, tmp_path, "a", "loop")
    calls_a = tmp_path / "calls-a.jsonl"
    b = _node(etcd, prefix, "b")
    try:
        wait_until(lambda: _calls(calls_a) >= 3, 30, "the leader acting")
        os.kill(child.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        b.start()
        wait_until(lambda: b.is_leader, 15, "b to take over from the stopped leader")
        took = time.monotonic() - stopped
        acted_before = _calls(calls_a)
        os.kill(child.pid, signal.SIGCONT)
        assert child.wait(15) == DEPOSED_EXIT_STATUS
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
        b.stop()
    assert (tmp_path / "a.fenced").exists()
    assert "refused by etcd" in (tmp_path / "a.log").read_text()  # etcd's compare refused it
    token_a = int((tmp_path / "a.leading").read_text())
    records = b.records("audit")
    started_a = [r for r in records if r.get("kind") == "started" and r["leader"] == "a"]
    assert all(r["fencing_token"] == token_a for r in started_a)
    assert not [r for r in records if r["leader"] == "a" and r["fencing_token"] != token_a]
    # every call A made had its 'started' committed first; at most the one in flight at SIGSTOP followed
    acted_after = _calls(calls_a)
    assert len(started_a) >= acted_after >= acted_before
    assert acted_after - acted_before <= 1
    print(f"SIGSTOP: follower led after {took:.2f} s; the resumed leader exited {DEPOSED_EXIT_STATUS}")
