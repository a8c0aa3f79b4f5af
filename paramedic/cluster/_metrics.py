"""The cluster node's own series (``paramedic_cluster_*``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["ClusterMetrics"]


class ClusterMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.is_leader = Gauge(
            "paramedic_cluster_is_leader", "1 while this replica holds the leader lease.", registry=registry
        )
        self.fencing_token = Gauge(
            "paramedic_cluster_fencing_token",
            "The current leader's fencing token (etcd revision of the leader key) as this replica sees it.",
            registry=registry,
        )
        self.members = Gauge(
            "paramedic_cluster_members", "Live replicas in the membership.", registry=registry
        )
        self.lease_renew_failures = Counter(
            "paramedic_cluster_lease_renew_failures_total",
            "Lease keepalives that failed (store unreachable or lease gone).",
            ["reason"],
            registry=registry,
        )
        self.fenced_writes = Counter(
            "paramedic_cluster_fenced_writes_total",
            "Writes conditioned on the leader key's revision, by outcome (committed/refused/error).",
            ["kind", "outcome"],
            registry=registry,
        )
        self.targets_owned = Gauge(
            "paramedic_cluster_targets_owned", "Scrape targets this replica owns.", registry=registry
        )
        self.malformed_keys = Counter(
            "paramedic_cluster_malformed_keys_total",
            "Member keys under the cluster prefix that are not a replica's document (ignored).",
            registry=registry,
        )
        self.elections = Counter(
            "paramedic_cluster_elections_won_total",
            "Times this replica became the leader.",
            registry=registry,
        )
