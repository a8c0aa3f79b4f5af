"""The coordination store seam: what cluster membership, leader election and fenced writes need from etcd.

:class:`CoordinationStore` is implemented by :class:`paramedic.cluster.etcd.EtcdClient` (etcd's v3 HTTP/JSON
gateway). Keys and values are ``bytes``; revisions are etcd's (monotonic over the whole store). Every call
is a synchronous round trip with a bounded timeout and is safe from several threads (one connection pool).
Failures to reach the store raise :class:`StoreUnavailableError`; a refused comparison is not an error
(``Txn.succeeded`` is False).

Errors::

    ClusterError
    ├── StoreUnavailableError   the store did not answer (network, timeout, 5xx); the cause is chained
    └── StoreRefusedError       the store answered with an error (unknown lease, bad request)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "ClusterError",
    "Compare",
    "CoordinationStore",
    "KeyValue",
    "Put",
    "StoreRefusedError",
    "StoreUnavailableError",
    "TxnResult",
    "prefix_end",
]


class ClusterError(Exception):
    """Base of the cluster package's errors."""


class StoreUnavailableError(ClusterError):
    """The coordination store did not answer in time (or answered 5xx)."""


class StoreRefusedError(ClusterError):
    """The coordination store answered with an error."""


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Compare:
    """``target`` of ``key`` compared for equality with ``value`` (an int for revisions, bytes for VALUE)."""

    key: bytes
    target: Literal["CREATE", "MOD", "VALUE"]
    value: int | bytes


@dataclass(frozen=True, slots=True)
class Put:
    key: bytes
    value: bytes
    lease: int = 0


@dataclass(frozen=True, slots=True)
class TxnResult:
    succeeded: bool
    revision: int  # the store's revision after the transaction
    kvs: list[KeyValue] = field(default_factory=list)  # what the failure branch read (the compared keys)


class CoordinationStore(Protocol):
    def grant(self, ttl_s: int) -> int:
        """A new lease of ``ttl_s`` seconds; its id."""
        ...

    def keepalive(self, lease: int) -> int:
        """Renew ``lease``; its remaining TTL in seconds (0: the lease is gone)."""
        ...

    def revoke(self, lease: int) -> None:
        """End ``lease`` now: every key bound to it is deleted (an unknown lease is not an error)."""
        ...

    def get_prefix(self, prefix: bytes) -> list[KeyValue]:
        """Every key under ``prefix``, in key order."""
        ...

    def get_range(self, start: bytes, end: bytes) -> list[KeyValue]:
        """Every key in ``[start, end)``, in key order."""
        ...

    def txn(self, compares: list[Compare], puts: list[Put]) -> TxnResult:
        """If every comparison holds, apply ``puts`` atomically; else read the compared keys."""
        ...


def prefix_end(prefix: bytes) -> bytes:
    """The ``range_end`` that selects every key starting with ``prefix`` (etcd's prefix convention)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"
