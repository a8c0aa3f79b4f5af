"""``paramedic demo --replicas N``: the log store every replica shares — an OpenSearch cluster on loopback
(``scripts/build_opensearch.sh``), so a line received by any replica is searchable from every replica.

Always three nodes, whatever N (each daily index has one replica shard: a node may die without losing an
acknowledged line). Measured on 2 shared cores with 256 MB heaps: 3 nodes are healthy 15 s after the JVMs
start and take ~620 MB RSS together (1 node: 10 s, ~210 MB) — not heavy enough to drop to one. When
OpenSearch is not built, :func:`start_log_store` says so and returns None: every replica keeps its own
tantivy index (it searches only the lines it received).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from log_pipeline.search.opensearch_cluster import OPENSEARCH_VERSION, missing_reason, start_cluster
from paramedic.demo._output import DemoError, Echo
from platforms.local.processes import ChildProcess

__all__ = ["HEAP_MB", "NODES", "LogStore", "opensearch_search", "start_log_store"]

NODES = 3
HEAP_MB = 256  # per node
STOP_TIMEOUT_S = 30.0  # a node's graceful shutdown, then SIGKILL


@dataclass(frozen=True, slots=True)
class LogStore:
    """The running cluster: its nodes (children of the demo, stopped with it) and their HTTP URLs."""

    children: list[ChildProcess]
    urls: list[str]
    started_s: float


def opensearch_search(hosts: list[str]) -> dict[str, Any]:
    """A replica's ``logs.search`` on the shared cluster (one replica shard when there are 2+ nodes)."""
    return {
        "type": "elasticsearch",
        "engine": "opensearch",
        "hosts": list(hosts),
        "index_prefix": "paramedic-demo-logs",
        "number_of_shards": 1,
        "number_of_replicas": 1 if len(hosts) > 1 else 0,
    }


def start_log_store(data_dir: Path, echo: Echo, nodes: int = NODES) -> LogStore | None:
    """Start ``nodes`` nodes under ``<data_dir>/opensearch-<nodes>``, wait for their health; None (said
    loudly) when OpenSearch is not built. A failed or interrupted start stops every node it started."""
    reason = missing_reason()
    if reason is not None:
        echo(
            f"OPENSEARCH NOT BUILT: each replica searches only the lines it received ({reason}; "
            "run scripts/build_opensearch.sh for the shared log store)",
            err=True,
        )
        return None
    echo(f"starting OpenSearch {OPENSEARCH_VERSION} ({nodes} node(s), {HEAP_MB} MB heap each) ...")
    workdir = data_dir / f"opensearch-{nodes}"  # kept across starts; one cluster per node count
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        cluster = start_cluster(workdir, nodes=nodes, heap_mb=HEAP_MB, name="paramedic-demo")
    except (RuntimeError, TimeoutError) as exc:  # the nodes it started are stopped already
        raise DemoError(f"OpenSearch did not start (node logs in {workdir}): {exc}") from exc
    children = [
        ChildProcess(f"opensearch-{i}", n.popen, n.argv, n.log_path) for i, n in enumerate(cluster.nodes)
    ]
    return LogStore(children, cluster.urls, cluster.started_s)
