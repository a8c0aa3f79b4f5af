"""Child process of the failover tests: a replica that joins the cluster, waits to lead, then runs a live
restart_app policy whose journal is the shared fenced one (as ``paramedic serve`` wires it).

``hang``: one alert; ``restart_app`` blocks forever after recording the call (the parent kills us mid-call).
``loop``: a new alert occurrence every 100 ms until the journal refuses a write (then exit 75, as a deposed
``paramedic serve`` does). Every platform call is appended to ``calls-<replica>.jsonl`` before it takes
effect.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from paramedic.cluster.etcd import EtcdClient
from paramedic.cluster.node import ClusterNode
from paramedic.cluster.service import DEPOSED_EXIT_STATUS
from remediation.audit.fenced import FencedAuditLog, FencedOutError
from remediation.sim import SimPlatform
from tests.remediation._support import alert, engine, policy

TTL_S = 2


def lead(etcd_url: str, prefix: str, replica: str) -> ClusterNode:
    node = ClusterNode(
        EtcdClient([etcd_url]), replica_id=replica, address=replica, ttl_s=TTL_S, prefix=prefix
    )
    node.start()
    deadline = time.monotonic() + 30
    while not node.is_leader:
        if time.monotonic() > deadline:
            raise SystemExit(f"{replica} never led")
        time.sleep(0.05)
    return node


async def main(etcd_url: str, prefix: str, workdir: Path, replica: str, mode: str) -> None:
    node = lead(etcd_url, prefix, replica)
    audit = FencedAuditLog(node)
    audit.reload()
    plat = SimPlatform({"web": 2}, record_to=workdir / f"calls-{replica}.jsonl")
    (workdir / f"{replica}.leading").write_text(str(node.fencing_token))
    if mode == "hang":
        plat.hang("restart_app")
        eng = engine([policy()], plat, audit=audit)
        await eng.handle([alert()])
        return
    eng = engine([policy(verify={"deadline": 0.01, "on_failure": "escalate"})], plat, audit=audit)
    start = datetime.now(UTC)
    i = 0
    while True:
        i += 1
        try:
            await eng.handle([alert(start=start + timedelta(seconds=i))])
        except FencedOutError as exc:
            (workdir / f"{replica}.fenced").write_text(str(exc))
            sys.exit(DEPOSED_EXIT_STATUS)
        await asyncio.sleep(0.1)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4], sys.argv[5]))
