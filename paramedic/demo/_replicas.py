"""``paramedic demo --replicas N``: N Paramedic replicas joined through etcd over one local platform.

Started in this order, after the platform, the load and the sinks: etcd, a single-node VictoriaMetrics (the
shared metrics store every replica's scrape shard lands in and the leader's rules read), the replicas
(each with its own HTTP port, log listeners and spool; the same users, tokens and remediation data dir; the
search index is the shared OpenSearch cluster of :mod:`._log_store` when it is built, else each replica's
own), then an HAProxy TCP front on the demo's RELP and syslog ports that spreads the platform's log streams
over the replicas. ``demo.json`` lists every replica (``replicas``); the banner says who leads.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from paramedic.demo._output import DemoError
from platforms.local.processes import ChildProcess, spawn
from platforms.local.state import free_port

__all__ = ["LEASE_TTL_S", "ReplicaPlan", "front_config", "leader_of", "replica_config", "replica_plans"]

LEASE_TTL_S = 5  # the demo's failover is quick to watch: a dead leader is replaced within ~7 s


@dataclass(frozen=True, slots=True)
class ReplicaPlan:
    id: str
    http_port: int
    relp_port: int
    syslog_port: int
    dir: Path

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "api_url": self.api_url,
            "http_port": self.http_port,
            "relp_port": self.relp_port,
            "syslog_port": self.syslog_port,
            "config": str(self.dir / "paramedic.yaml"),
        }


def replica_plans(data_dir: Path, n: int, first_http_port: int) -> list[ReplicaPlan]:
    """Replica ``r1`` on the demo's HTTP port, the others on free ports; log listeners on free ports."""
    return [
        ReplicaPlan(
            f"r{i + 1}",
            first_http_port if i == 0 else free_port(),
            free_port(),
            free_port(),
            data_dir / "replicas" / f"r{i + 1}",
        )
        for i in range(n)
    ]


def replica_config(
    base: dict[str, Any],
    plan: ReplicaPlan,
    *,
    etcd_url: str,
    store_url: str,
    search: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The single-process demo config made into one replica's: its ports and local state, the shared store,
    the ``cluster:`` block. UDP syslog is off (the TCP front cannot carry it). ``search``: the shared log
    store's ``logs.search`` section (OpenSearch); without it the replica keeps its own tantivy index."""
    cfg = copy.deepcopy(base)
    cfg["server"]["listen_port"] = plan.http_port
    cfg["metrics_store"] = {"type": "remote", "write_url": store_url, "read_url": store_url}
    logs = cfg["logs"]
    logs["relp"]["port"] = plan.relp_port
    logs["syslog_tcp"]["port"] = plan.syslog_port
    logs["syslog_udp"] = None
    logs["spool"]["path"] = str(plan.dir / "logs" / "spool")
    if search is not None:
        logs["search"] = copy.deepcopy(search)
    else:
        logs["search"]["path"] = str(plan.dir / "logs" / "search")
    if "alerting" in cfg:
        cfg["alerting"]["data_dir"] = str(plan.dir / "alerting")
    if "rules" in cfg:
        cfg["rules"]["state_file"] = str(plan.dir / "alerting" / "rules-state.json")
    cfg["cluster"] = {
        "etcd_endpoints": [etcd_url],
        "replica_id": plan.id,
        "advertise_url": plan.api_url,
        "lease_ttl_s": LEASE_TTL_S,
        "key_prefix": "/paramedic/demo/",
    }
    return cfg


def front_config(relp_port: int, syslog_port: int, plans: list[ReplicaPlan]) -> str:
    """HAProxy in TCP mode: the demo's RELP and syslog ports, each balanced over every replica's listener."""

    def section(name: str, port: int, attr: str) -> str:
        servers = "\n".join(
            f"    server {p.id} 127.0.0.1:{getattr(p, attr)} check inter 1s fall 2 rise 1" for p in plans
        )
        return (
            f"frontend {name}\n    bind 127.0.0.1:{port}\n    default_backend {name}\n"
            f"backend {name}\n    balance leastconn\n{servers}\n"
        )

    return (
        "global\n    maxconn 4096\n"
        "defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 1h\n    timeout server 1h\n"
        + section("relp", relp_port, "relp_port")
        + section("syslog", syslog_port, "syslog_port")
    )


def start_etcd(data_dir: Path) -> tuple[ChildProcess, str]:
    client, peer = free_port(), free_port()
    url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    child = spawn(
        "etcd",
        ["etcd", "--name", "demo", "--data-dir", str(data_dir / "etcd"), "--listen-client-urls", url,
         "--advertise-client-urls", url, "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls",
         peer_url, "--initial-cluster", f"demo={peer_url}", "--log-level", "warn"],
        data_dir / "logs" / "etcd.log",
    )  # fmt: skip
    return child, url


def start_store(data_dir: Path) -> tuple[ChildProcess, str]:
    port = free_port()
    child = spawn(
        "victoria-metrics",
        ["victoria-metrics", f"-storageDataPath={data_dir / 'victoria-metrics'}",
         f"-httpListenAddr=127.0.0.1:{port}", "-retentionPeriod=1", "-search.latencyOffset=0s"],
        data_dir / "logs" / "victoria-metrics.log",
    )  # fmt: skip
    return child, f"http://127.0.0.1:{port}"


def start_front(data_dir: Path, relp_port: int, syslog_port: int, plans: list[ReplicaPlan]) -> ChildProcess:
    cfg = data_dir / "replicas" / "front.cfg"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(front_config(relp_port, syslog_port, plans))
    return spawn("log-front", ["haproxy", "-db", "-f", str(cfg)], data_dir / "logs" / "log-front.log")


def leader_of(api_url: str, token: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """The leader as ``api_url`` sees it (``id``, ``address``, ``fencing_token``), once one is elected."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        try:
            resp = httpx.get(
                f"{api_url}/api/v1/status/cluster", headers={"Authorization": f"Bearer {token}"}, timeout=2.0
            )
            leader = resp.json().get("data", {}).get("leader") if resp.status_code == 200 else None
            if leader:
                return dict(leader)
            last = f"HTTP {resp.status_code}"
        except (httpx.HTTPError, ValueError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise DemoError(f"no leader elected within {timeout_s:.0f}s ({api_url}: {last})")
