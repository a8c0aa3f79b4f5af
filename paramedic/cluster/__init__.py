"""Paramedic on several machines: membership, leader election with fencing and sharded scraping, through
etcd. See docs/scaling.md ("Several replicas") for what runs where.

- :class:`ClusterNode` — one replica's membership, leader lease, fencing token and fenced writes;
- :class:`EtcdClient` — the :class:`CoordinationStore` over etcd's v3 HTTP/JSON gateway;
- :class:`ClusterService` — what the server wires: the node, the scrape shard, leader-only start;
- :func:`owner` / :func:`owns` — rendezvous hashing of targets over the live members;
- :class:`EtcdState` — the dispatcher's silences, acks and notification log as the leader's fenced documents.
"""

from paramedic.cluster.base import ClusterError, CoordinationStore, StoreRefusedError, StoreUnavailableError
from paramedic.cluster.config import ClusterConfig
from paramedic.cluster.etcd import EtcdClient
from paramedic.cluster.node import ClusterNode, LeaderInfo, Member
from paramedic.cluster.service import DEPOSED_EXIT_STATUS, ClusterService
from paramedic.cluster.shard import owner, owns
from paramedic.cluster.state import EtcdState

__all__ = [
    "DEPOSED_EXIT_STATUS",
    "ClusterConfig",
    "ClusterError",
    "ClusterNode",
    "ClusterService",
    "CoordinationStore",
    "EtcdClient",
    "EtcdState",
    "LeaderInfo",
    "Member",
    "StoreRefusedError",
    "StoreUnavailableError",
    "owner",
    "owns",
]
