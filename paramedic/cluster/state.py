"""Shared state of a replicated Paramedic in etcd: the dispatcher's silences, acks and notification log.

:class:`EtcdState` implements :class:`alerting.dispatch.StateStore` over :meth:`ClusterNode.commit`: each
document is one fenced record (``fenced/state/<name>``), so only the current leader writes it, stamped with
its fencing token. Followers send silence, ack, alert and approval requests to the leader
(:func:`paramedic.cluster.api.install_leader_proxy`); a new leader re-reads the documents before its
dispatcher starts. Approvals, like every remediation decision, are events of the shared remediation journal
(``remediation.audit.fenced``). etcd keeps values up to 1.5 MiB: a few thousand silences per document.
"""

from __future__ import annotations

from typing import Any

from alerting.dispatch import StateError
from paramedic.cluster.base import ClusterError
from paramedic.cluster.node import ClusterNode

__all__ = ["EtcdState"]


class EtcdState:
    def __init__(self, node: ClusterNode) -> None:
        self._node = node

    def read(self, name: str) -> Any:
        """The stored document; None on a follower (it runs no dispatcher: the leader reads the state
        when it is elected, see ``Dispatcher.reload_state``)."""
        if not self._node.is_leader:
            return None
        try:
            docs = self._node.records("state")
        except ClusterError as exc:
            raise StateError(f"etcd: cannot read state {name}: {exc}") from exc
        return next((d["data"] for d in docs if d.get("name") == name), None)

    def write(self, name: str, data: Any) -> None:
        if not self._node.commit("state", name, {"name": name, "data": data}):
            raise StateError(f"etcd: state {name} not written: this replica does not hold the leader lease")
