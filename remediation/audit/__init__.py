"""Audit trail implementations: :class:`SqliteAuditLog` (durable, append-only, the crash journal) and
:class:`MemoryAuditLog` (simulations). Both also answer :meth:`started_since`, the fast index the rails use;
:func:`started_since` falls back to :meth:`AuditLog.query` for other implementations."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from remediation.audit._codec import StartedAction, fold, jsonable
from remediation.audit.memory import MemoryAuditLog
from remediation.audit.sqlite import AuditLogError, SqliteAuditLog
from remediation.base import AuditLog

__all__ = [
    "AuditLogError",
    "MemoryAuditLog",
    "SqliteAuditLog",
    "StartedAction",
    "StartedIndex",
    "fold",
    "jsonable",
    "started_since",
]


@runtime_checkable
class StartedIndex(Protocol):
    def started_since(self, since: datetime) -> list[StartedAction]:
        """Actions with a ``started`` event at or after ``since``, oldest first."""
        ...


def started_since(history: AuditLog, since: datetime) -> list[StartedAction]:
    """Executed actions since ``since``; uses the log's index when it has one."""
    if isinstance(history, StartedIndex):
        return history.started_since(since)
    out: list[StartedAction] = []
    for rec in history.query(since=since, limit=1_000_000):  # fallback: by creation time
        for e in rec.events:
            if e.kind == "started" and e.at >= since:
                out.append(StartedAction(rec.request.id, rec.request.policy, rec.request.target, e.at))
    out.sort(key=lambda s: s.started_at)
    return out
