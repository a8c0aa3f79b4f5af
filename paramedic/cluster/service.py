"""The cluster as the server uses it: one etcd client and one :class:`ClusterNode`, the scrape shard, and the
leader-only services started on election.

What runs where: every replica scrapes its shard of the targets (rendezvous hashing over the live members,
re-applied on the event loop when the membership changes), receives logs and serves the API; only the leader
evaluates rules, dispatches alerts and runs remediation (started when it is elected, after the shared
journal is re-read so interrupted actions are recovered). A replica that loses the lead exits at once
(status 75, as Kubernetes' controller-manager does on a lost lease) so a supervisor restarts it as a
follower; the fence covers the moments before: etcd refuses its journal and notification writes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import ssl
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry

from paramedic.cluster.config import ClusterConfig
from paramedic.cluster.etcd import EtcdClient
from paramedic.cluster.node import ClusterNode
from paramedic.cluster.shard import owns
from paramedic.cluster.tls import etcd_ssl_context

__all__ = ["DEPOSED_EXIT_STATUS", "ClusterService"]

log = logging.getLogger("paramedic.cluster")

DEPOSED_EXIT_STATUS = 75


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _exit_deposed(why: str) -> None:
    log.critical("lost the leader lease (%s): exiting so a supervisor restarts this replica", why)
    logging.shutdown()
    os._exit(DEPOSED_EXIT_STATUS)


class ClusterService:
    def __init__(
        self,
        config: ClusterConfig,
        *,
        address: str,
        registry: CollectorRegistry,
        base_dir: Path | None = None,
        on_deposed: Callable[[str], None] = _exit_deposed,
    ) -> None:
        """``base_dir``: where ``cluster.tls``'s relative paths are read from (the config file's folder)."""
        self.config = config
        verify: ssl.SSLContext | bool = True
        if config.tls is not None:
            verify = etcd_ssl_context(config.tls, base_dir or Path.cwd())
        elif not all(_loopback(u) for u in config.etcd_endpoints):
            log.warning(
                "cluster: etcd over plain http to a non-loopback address: anyone who can reach etcd can "
                "join this cluster, take the lead and write its journal (set cluster.tls and start etcd "
                "with --client-cert-auth)"
            )
        self.client = EtcdClient(config.etcd_endpoints, timeout_s=config.request_timeout_s, verify=verify)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reshard: Callable[[], None] | None = None
        self._lead: Callable[[], Coroutine[Any, Any, None]] | None = None
        self._leading: asyncio.Task[None] | None = None
        self._may_lead = False  # set by allow_leading: the server has started what must come first
        self._publish: asyncio.Task[None] | None = None
        self.node = ClusterNode(
            self.client,
            replica_id=config.replica_id,
            address=config.advertise_url or address,
            ttl_s=config.lease_ttl_s,
            prefix=config.key_prefix,
            registry=registry,
            on_elected=self._elected,
            on_deposed=on_deposed,
            on_members=self._members_changed,
        )

    def owns(self, target_key: str) -> bool:
        """Whether this replica scrapes ``target_key`` (for ``ScrapeManager(owns=...)``)."""
        return owns(self.node.id, target_key, self.node.member_ids())

    async def start(
        self,
        *,
        reshard: Callable[[], None],
        lead: Callable[[], Coroutine[Any, Any, None]],
        targets_owned: Callable[[], int],
    ) -> None:
        """Join the cluster; ``reshard`` runs on this loop when the membership changes, ``lead`` once when
        this replica is elected; ``targets_owned`` is published in the member key every tick."""
        self._loop = asyncio.get_running_loop()
        self._reshard, self._lead = reshard, lead
        self._publish = self._loop.create_task(self._publish_owned(targets_owned), name="cluster-owned")
        await asyncio.to_thread(self.node.start)

    async def _publish_owned(self, targets_owned: Callable[[], int]) -> None:
        while True:
            self.node.set_targets_owned(targets_owned())
            await asyncio.sleep(self.node.tick_s)

    async def stop(self) -> None:
        if self._publish is not None:
            self._publish.cancel()
        if self._leading is not None and not self._leading.done():
            self._leading.cancel()
        await asyncio.to_thread(self.node.stop)
        self.client.close()

    def _elected(self, token: int) -> None:
        loop = self._loop
        if loop is not None and self._lead is not None:
            loop.call_soon_threadsafe(self._start_leading)

    def allow_leading(self) -> None:
        """The server reached the point where a single process starts rules, dispatch and remediation
        (after the log pipeline): lead now if elected, or as soon as elected. Call on the event loop."""
        self._may_lead = True
        if self.node.is_leader:
            self._start_leading()

    def _start_leading(self) -> None:
        if self._may_lead and self._leading is None and self._lead is not None:
            self._leading = asyncio.get_running_loop().create_task(self._lead(), name="cluster-lead")

    def _members_changed(self, members: list[str]) -> None:
        log.info("cluster members: %s", ", ".join(members))
        if self._loop is not None and self._reshard is not None:
            self._loop.call_soon_threadsafe(self._reshard)
