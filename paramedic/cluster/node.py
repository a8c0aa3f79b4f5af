"""One replica's place in the cluster: membership under a lease, leader election, fenced writes.

Keys under ``<prefix>`` (default ``/paramedic/default/``)::

    members/<id>        {"id", "address", "pid", "targets_owned"}   bound to this replica's lease
    leader              {"id", "address"}                              bound to the leader's lease
    fenced/<kind>/<key> {..., "fencing_token": N, "leader": id}        written only by the leader, see commit

A fenced record written with ``ttl_s`` (the notification log) is bound to a *retention lease* that is never
renewed: etcd deletes it between ``ttl_s`` and ``ttl_s`` + one hour after it was written (one lease per hour
and TTL, so the number of leases stays small). Records without ``ttl_s`` (the remediation journal, the
dispatcher's state) stay until deleted.

Election: a transaction creates ``leader`` only if its ``create_revision`` is 0 (absent), bound to the
candidate's lease. The **fencing token** is that key's create revision: etcd's revisions grow monotonically,
so every new leader holds a larger token than every earlier one. :meth:`ClusterNode.commit` writes a record in
a transaction conditioned on ``leader`` still having that create revision, so a deposed leader (lease expired
while it was stopped, partitioned or slow) is refused by etcd itself, whatever it believes locally.

The node runs its own thread: every ``ttl/3`` it renews the lease (re-registering under a new lease when the
old one is gone), campaigns, and reads the membership. Callbacks (``on_elected``, ``on_deposed``,
``on_members``) run on that thread. A follower takes over at most one TTL plus one tick after the leader's
lease stops being renewed (TTL ≤ 10 s: within 15 s).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import CollectorRegistry

from paramedic.cluster._metrics import ClusterMetrics
from paramedic.cluster.base import (
    ClusterError,
    Compare,
    CoordinationStore,
    KeyValue,
    Put,
    prefix_end,
)

__all__ = ["ClusterNode", "CommitOutcome", "LeaderInfo", "Member"]

CommitOutcome = Literal["committed", "taken", "refused", "error"]

log = logging.getLogger("paramedic.cluster")


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    address: str
    pid: int
    targets_owned: int
    alive: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "address": self.address,
            "pid": self.pid,
            "targets_owned": self.targets_owned,
            "alive": self.alive,
        }


@dataclass(frozen=True, slots=True)
class LeaderInfo:
    id: str
    address: str
    fencing_token: int


class ClusterNode:
    def __init__(  # noqa: PLR0913 - identity, store, timings; callbacks keyword-only
        self,
        store: CoordinationStore,
        *,
        replica_id: str,
        address: str,
        ttl_s: int = 10,
        prefix: str = "/paramedic/default/",
        pid: int | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_elected: Callable[[int], None] | None = None,
        on_deposed: Callable[[str], None] | None = None,
        on_members: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.id = replica_id
        self.address = address
        self.ttl_s = ttl_s
        self.tick_s = max(ttl_s / 3, 0.2)
        self._store = store
        self._prefix = prefix.encode()
        self._pid = os.getpid() if pid is None else pid
        self._clock = clock
        self._metrics = ClusterMetrics(registry)
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self._on_members = on_members
        self._lock = threading.Lock()
        self._lease = 0
        self._renewed_at = 0.0
        self._token = 0  # our token while leading, else 0
        self._held = 0  # the last token we held: what commit presents to etcd, which decides
        self._leader: LeaderInfo | None = None
        self._members: dict[str, Member] = {}
        self._seen: dict[str, Member] = {}  # every member seen since start (dead ones shown as not alive)
        self._targets_owned = 0
        self._registered_owned = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retention: dict[int, tuple[int, float]] = {}  # ttl_s -> (lease, granted at)

    # -- keys --------------------------------------------------------------------------------------------
    @property
    def _leader_key(self) -> bytes:
        return self._prefix + b"leader"

    def _member_key(self) -> bytes:
        return self._prefix + b"members/" + self.id.encode()

    def _fenced_key(self, kind: str, key: str) -> bytes:
        return self._prefix + f"fenced/{kind}/{key}".encode()

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        """Join (one tick now, so the caller knows leader and members) and keep ticking in a thread."""
        with contextlib.suppress(ClusterError):
            self.tick()
        self._thread = threading.Thread(target=self._run, name=f"cluster-{self.id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Leave: stop ticking and revoke the lease (members and a held leader key vanish at once)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.tick_s + 5)
        lease, self._lease = self._lease, 0
        if lease:
            with contextlib.suppress(ClusterError):
                self._store.revoke(lease)
        self._set_leading(0, "stopped")

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.tick()
            except ClusterError as exc:
                log.warning("cluster tick failed: %s", exc)
            except Exception:  # a bug must not end the keepalive silently: the next tick tries again
                log.exception("cluster tick failed")

    # -- one round ---------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Renew (or re-take) the lease, register, campaign, read the membership."""
        self._renew()
        self._register()
        self._campaign()
        self._read_members()

    def _renew(self) -> None:
        sent = self._clock()  # etcd counts the TTL from when it got the request: never later than this
        if self._lease:
            try:
                ttl = self._store.keepalive(self._lease)
            except ClusterError:
                self._metrics.lease_renew_failures.labels("unavailable").inc()
                if self._clock() - self._renewed_at >= self.ttl_s:
                    self._set_leading(0, "lease not renewed for a whole TTL")
                raise
            if ttl > 0:
                self._renewed_at = sent
                return
            self._metrics.lease_renew_failures.labels("expired").inc()
            self._set_leading(0, "lease expired")
            self._lease = 0
        self._lease = self._store.grant(self.ttl_s)
        self._renewed_at = sent
        self._registered_owned = -1

    def _register(self) -> None:
        with self._lock:
            owned = self._targets_owned
        if owned == self._registered_owned:
            return
        doc = {"id": self.id, "address": self.address, "pid": self._pid, "targets_owned": owned}
        self._store.txn([], [Put(self._member_key(), json.dumps(doc).encode(), self._lease)])
        self._registered_owned = owned

    def _campaign(self) -> None:
        doc = json.dumps({"id": self.id, "address": self.address}).encode()
        res = self._store.txn(
            [Compare(self._leader_key, "CREATE", 0)], [Put(self._leader_key, doc, self._lease)]
        )
        if res.succeeded:
            self._leader = LeaderInfo(self.id, self.address, res.revision)
            self._set_leading(res.revision, "elected")
            return
        if not res.kvs:  # deleted between the compare and the read: campaign again next tick
            return
        kv = res.kvs[0]
        data = _json_object(kv.value)
        self._leader = LeaderInfo(str(data.get("id", "")), str(data.get("address", "")), kv.create_revision)
        if kv.lease == self._lease and data.get("id") == self.id:
            self._set_leading(kv.create_revision, "elected")
        else:
            self._set_leading(0, f"{data.get('id')} leads")
        self._metrics.fencing_token.set(kv.create_revision)

    def _read_members(self) -> None:
        kvs = self._store.get_prefix(self._prefix + b"members/")
        live: dict[str, Member] = {}
        for kv in kvs:
            member = _member(kv.value)
            if member is None:  # not a replica's document: skipped, never the end of the membership
                self._metrics.malformed_keys.inc()
                log.warning("cluster: ignoring a malformed member key %r", kv.key[:200])
                continue
            live[member.id] = member
        with self._lock:
            changed = set(live) != set(self._members)
            self._members = live
            self._seen.update(live)
        self._metrics.members.set(len(live))
        if changed and self._on_members is not None:
            self._on_members(sorted(live))

    def _set_leading(self, token: int, why: str) -> None:
        with self._lock:
            was = self._token
            self._token = token
            if token:
                self._held = token
        self._metrics.is_leader.set(1 if token else 0)
        if token:
            self._metrics.fencing_token.set(token)
        if token and token != was:
            self._metrics.elections.inc()
            log.warning("replica %s leads (fencing token %d)", self.id, token)
            if self._on_elected is not None:
                self._on_elected(token)
        elif was and not token:
            log.error("replica %s is no longer the leader: %s", self.id, why)
            if self._on_deposed is not None:
                self._on_deposed(why)

    # -- what others read --------------------------------------------------------------------------------
    @property
    def fencing_token(self) -> int:
        """Our token while we believe we lead, else 0 (etcd decides in :meth:`commit`)."""
        with self._lock:
            return self._token

    @property
    def is_leader(self) -> bool:
        return self.fencing_token != 0

    @property
    def leader(self) -> LeaderInfo | None:
        return self._leader

    def member_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._members)

    def members(self) -> list[Member]:
        """Live members, then members seen earlier that are gone (``alive`` False)."""
        with self._lock:
            out = [self._members[k] for k in sorted(self._members)]
            gone = [self._seen[k] for k in sorted(self._seen) if k not in self._members]
        return out + [Member(m.id, m.address, m.pid, m.targets_owned, alive=False) for m in gone]

    def set_targets_owned(self, n: int) -> None:
        """What this replica scrapes now (registered in its member key at the next tick)."""
        with self._lock:
            self._targets_owned = n
        self._metrics.targets_owned.set(n)

    # -- fenced writes -----------------------------------------------------------------------------------
    def commit(self, kind: str, key: str, doc: dict[str, Any], *, ttl_s: int | None = None) -> bool:
        """Write ``doc`` (stamped with our fencing token) under ``fenced/<kind>/<key>`` if and only if the
        leader key still has our token as its create revision; False when refused or the store is
        unreachable (the caller must then neither act nor notify). The last token this replica held is
        always presented, even when it already believes it was deposed: etcd decides, not a local flag.
        ``ttl_s``: etcd deletes the record after that long (within one more hour)."""
        return self._fenced_put(kind, key, doc, ttl_s=ttl_s, create_only=False) == "committed"

    def commit_new(self, kind: str, key: str, doc: dict[str, Any]) -> CommitOutcome:
        """:meth:`commit` of a key that must not exist yet (an append-only journal): ``committed`` (also when
        an earlier write of exactly this record landed though its answer was lost), ``taken`` (we still
        lead, but the key holds another record: an earlier write whose answer was lost; read the journal
        and append after it), ``refused`` (deposed) or ``error`` (etcd unreachable)."""
        return self._fenced_put(kind, key, doc, ttl_s=None, create_only=True)

    def _fenced_put(
        self, kind: str, key: str, doc: dict[str, Any], *, ttl_s: int | None, create_only: bool
    ) -> CommitOutcome:
        with self._lock:
            token = self._held
        if not token:  # never led: there is no token to present
            self._metrics.fenced_writes.labels(kind, "refused").inc()
            return "refused"
        body = json.dumps({**doc, "fencing_token": token, "leader": self.id}).encode()
        fkey = self._fenced_key(kind, key)
        compares = [Compare(self._leader_key, "CREATE", token)]
        if create_only:
            compares.append(Compare(fkey, "CREATE", 0))
        try:
            lease = 0 if ttl_s is None else self._retention_lease(ttl_s)
            res = self._store.txn(compares, [Put(fkey, body, lease)])
        except ClusterError as exc:
            if ttl_s is not None:
                with self._lock:  # a lease gone early (etcd restored, revoked by hand): a new one next time
                    self._retention.pop(ttl_s, None)
            log.error("fenced write %s/%s failed: %s", kind, key, exc)
            self._metrics.fenced_writes.labels(kind, "error").inc()
            return "error"
        if not res.succeeded:
            return self._not_written(kind, key, token, body, res.kvs)
        self._metrics.fenced_writes.labels(kind, "committed").inc()
        return "committed"

    def _not_written(
        self, kind: str, key: str, token: int, body: bytes, kvs: list[KeyValue]
    ) -> CommitOutcome:
        """Why a fenced transaction failed, read from the compared keys etcd sent back."""
        leader = next((kv for kv in kvs if kv.key == self._leader_key), None)
        held = next((kv for kv in kvs if kv.key == self._fenced_key(kind, key)), None)
        if leader is not None and leader.create_revision == token and held is not None:
            outcome: CommitOutcome = "committed" if held.value == body else "taken"
            self._metrics.fenced_writes.labels(kind, outcome).inc()
            if outcome == "taken":
                log.warning("fenced write %s/%s: the key holds an earlier record (a lost answer)", kind, key)
            return outcome
        log.error("fenced write %s/%s refused by etcd: token %d is stale", kind, key, token)
        self._metrics.fenced_writes.labels(kind, "refused").inc()
        self._set_leading(0, f"fenced write {kind}/{key} refused by etcd (token {token} is stale)")
        return "refused"

    def _retention_lease(self, ttl_s: int) -> int:
        """The lease records kept ``ttl_s`` are bound to: granted with TTL ``ttl_s`` + 1 h, replaced hourly,
        never renewed."""
        now = self._clock()
        with self._lock:
            held = self._retention.get(ttl_s)
        if held is not None and now - held[1] < 3600:
            return held[0]
        lease = self._store.grant(ttl_s + 3600)
        with self._lock:
            self._retention[ttl_s] = (lease, now)
        return lease

    def records(self, kind: str, *, after: str | None = None) -> list[dict[str, Any]]:
        """Every fenced record of ``kind``, in key order; ``after``: only those with a larger key."""
        base = self._prefix + f"fenced/{kind}/".encode()
        start = base if after is None else base + after.encode() + b"\0"
        kvs = self._store.get_range(start, prefix_end(base))
        return [json.loads(kv.value) for kv in kvs]


def _json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object; ``{}`` when it is not one (a key written by something else)."""
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _member(raw: bytes) -> Member | None:
    d = _json_object(raw)
    try:
        return Member(str(d["id"]), str(d["address"]), int(d["pid"]), int(d["targets_owned"]))
    except (KeyError, TypeError, ValueError):
        return None
