"""The audit trail of a replicated Paramedic: every entry is a fenced write to a shared journal.

Each request and event is first committed to the shared journal (in a cluster: etcd, through
``paramedic.cluster.ClusterNode.commit``) by a transaction conditioned on the writer still holding the leader
lease; the journal stamps the record with the writer's fencing token. A refused write raises
:class:`FencedOutError` and nothing is recorded locally: the engine journals ``started`` before any platform
call, so a deposed leader never acts. Reads come from an in-memory mirror
(:class:`~remediation.audit.memory.MemoryAuditLog`) rebuilt from the shared journal by :meth:`reload` (the new
leader does that before it recovers interrupted actions) and brought up to date by :meth:`catch_up` (only
the records added since, at most every ``max_age_s``, on followers).

Thread-safety: writes are serialised by a lock (the engine writes from its event loop; the API reads from
threads).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from platforms.tenancy import FOUNDATION, Scope
from remediation.audit._codec import StartedAction, _time, jsonable, request_from_dict, request_to_dict
from remediation.audit.memory import MemoryAuditLog
from remediation.base import RemediationError
from remediation.model import ActionRecord, ActionRequest, AuditEvent

__all__ = ["FencedAuditLog", "FencedJournal", "FencedOutError"]

KIND = "audit"

log = logging.getLogger("remediation.audit")


class FencedOutError(RemediationError):
    """The shared journal refused a write: this replica no longer holds the leader lease."""


class FencedJournal(Protocol):
    """A shared, fenced journal (``paramedic.cluster.ClusterNode`` in a cluster)."""

    def commit(self, kind: str, key: str, doc: dict[str, Any]) -> bool:
        """Durably write ``doc`` under ``key`` if this writer still leads; False when refused."""
        ...

    def commit_new(self, kind: str, key: str, doc: dict[str, Any]) -> str:
        """:meth:`commit` of a key that must not exist yet: ``committed``, ``taken`` (it holds another
        record), ``refused`` or ``error``."""
        ...

    def records(self, kind: str, *, after: str | None = None) -> list[dict[str, Any]]:
        """Every record of ``kind`` in key order (each with its ``fencing_token``); ``after``: only those
        with a larger key."""
        ...


class FencedAuditLog:
    """:class:`remediation.base.AuditLog` over a :class:`FencedJournal`."""

    def __init__(
        self, journal: FencedJournal, *, max_age_s: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._journal = journal
        self._max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.RLock()
        self._mirror = MemoryAuditLog()
        self._next = 1
        self._loaded_at = float("-inf")  # read at first use (the leader reloads before recovering)

    # -- the shared journal -----------------------------------------------------------------------------
    def reload(self) -> None:
        """Rebuild the mirror from the shared journal (every leader's entries, in journal order)."""
        records = self._journal.records(KIND)
        mirror = MemoryAuditLog()
        nxt = 1
        for rec in records:
            nxt = max(nxt, int(rec["seq"]) + 1)
            _apply(mirror, rec)
        with self._lock:
            self._mirror, self._next, self._loaded_at = mirror, nxt, self._clock()

    def catch_up(self) -> int:
        """Apply the journal's records written since the last read (entries are never rewritten: keys are
        their sequence numbers), so a follower's periodic read costs what was added, not the whole
        journal. Returns how many were applied."""
        with self._lock:
            after = f"{self._next - 1:016d}"
        records = self._journal.records(KIND, after=after)
        applied = 0
        with self._lock:
            for rec in records:
                seq = int(rec["seq"])
                if seq < self._next:  # our own write, already in the mirror
                    continue
                _apply(self._mirror, rec)
                self._next = seq + 1
                applied += 1
            self._loaded_at = self._clock()
        return applied

    def _fresh(self) -> MemoryAuditLog:
        if self._clock() - self._loaded_at >= self._max_age_s:
            try:
                if self._loaded_at == float("-inf"):
                    self.reload()
                else:
                    self.catch_up()
            except Exception:  # the journal's own errors (unknown here): a read serves the last mirror
                log.warning("shared journal unreadable: serving the last copy", exc_info=True)
        return self._mirror

    def _commit(self, doc: dict[str, Any]) -> None:
        """Append ``doc`` at the next sequence number. Keys are never rewritten: when the key already holds
        a record (an earlier write landed though its answer was lost), the journal is read up to date first
        (so every replica's mirror and ours agree with etcd) and ``doc`` goes after it."""
        for _ in range(2):
            seq = self._next
            outcome = self._journal.commit_new(KIND, f"{seq:016d}", {**doc, "seq": seq})
            if outcome == "committed":
                self._next = seq + 1
                self._loaded_at = self._clock()  # our own writes keep the mirror current
                return
            if outcome != "taken":
                break
            try:
                self.catch_up()
            except Exception:  # the journal's own errors: nothing written, as for a refusal
                log.warning("shared journal unreadable after a taken key", exc_info=True)
                break
        raise FencedOutError(
            f"journal write {self._next} refused: this replica does not hold the leader lease"
        )

    # -- AuditLog ----------------------------------------------------------------------------------------
    def append(self, event: AuditEvent) -> AuditEvent:
        with self._lock:
            self._commit(
                {
                    "type": "event",
                    "action_id": event.action_id,
                    "kind": event.kind,
                    "at": event.at.isoformat(),
                    "data": jsonable(event.data),
                }
            )
            return self._mirror.append(event)

    def record(self, request: ActionRequest) -> bool:
        with self._lock:
            if self._mirror.get(request.id) is not None:
                return False
            self._commit({"type": "request", "request": request_to_dict(request)})
            self._mirror.record_only(request)
        self.append(AuditEvent(request.id, "requested", request.created_at, {}))
        return True

    def get(self, action_id: str) -> ActionRecord | None:
        return self._fresh().get(action_id)

    def events(self, action_id: str) -> list[AuditEvent]:
        return self._fresh().events(action_id)

    def query(
        self,
        *,
        policy: str | None = None,
        app: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        scope: Scope = FOUNDATION,
    ) -> list[ActionRecord]:
        return self._fresh().query(
            policy=policy, app=app, status=status, since=since, until=until, limit=limit, scope=scope
        )

    def open_actions(self) -> list[ActionRecord]:
        return self._fresh().open_actions()

    def started_since(self, since: datetime) -> list[StartedAction]:
        return self._fresh().started_since(since)

    def close(self) -> None:
        """Nothing to close (the journal belongs to the cluster node)."""


def _apply(mirror: MemoryAuditLog, rec: dict[str, Any]) -> None:
    if rec["type"] == "request":
        mirror.record_only(request_from_dict(rec["request"]))
    else:
        mirror.append(AuditEvent(rec["action_id"], rec["kind"], _time(rec["at"]), rec.get("data") or {}))
