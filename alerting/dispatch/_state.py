"""The notification log (what was sent to which receiver integration, for dedup and restarts) and acks.

Both are persisted in a :class:`~alerting.dispatch._persist.StateStore` (by default atomically under the data
dir: ``nflog.json``, ``acks.json``; in a cluster: etcd). Entries expire after
``retention_s`` (default 5 days, like Alertmanager's ``--data.retention``). Not locked:
the dispatcher serialises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alerting.dispatch._persist import StateStore, parse_time, state_of

__all__ = ["AckStore", "LogEntry", "NotificationLog"]


@dataclass(frozen=True, slots=True)
class LogEntry:
    group_key: str
    receiver: str
    integration: int
    firing: frozenset[str]
    resolved: frozenset[str]
    timestamp: datetime
    group_labels: dict[str, str] = field(default_factory=dict)  # whose alerts: org/space when they carry them

    def to_json(self) -> dict[str, Any]:
        return {
            "groupLabels": self.group_labels,
            "groupKey": self.group_key,
            "receiver": self.receiver,
            "integration": self.integration,
            "firing": sorted(self.firing),
            "resolved": sorted(self.resolved),
            "timestamp": self.timestamp.isoformat(),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LogEntry:
        return cls(
            d["groupKey"],
            d["receiver"],
            int(d["integration"]),
            frozenset(d["firing"]),
            frozenset(d["resolved"]),
            parse_time(d["timestamp"]),
            {str(k): str(v) for k, v in (d.get("groupLabels") or {}).items()},
        )


class NotificationLog:
    def __init__(
        self, data_dir: Path | None, retention_s: float = 5 * 86400, *, state: StateStore | None = None
    ) -> None:
        self._state = state_of(data_dir, state)
        self._retention = timedelta(seconds=retention_s)
        self._entries: dict[tuple[str, str, int], LogEntry] = {}
        self.reload()

    @property
    def retention_s(self) -> int:
        """How long an entry is kept (whole seconds, at least one)."""
        return max(1, int(self._retention.total_seconds()))

    def reload(self) -> None:
        if self._state is None:
            return
        entries = [LogEntry.from_json(d) for d in self._state.read("nflog") or []]
        self._entries = {(e.group_key, e.receiver, e.integration): e for e in entries}

    def get(self, group_key: str, receiver: str, integration: int) -> LogEntry | None:
        return self._entries.get((group_key, receiver, integration))

    def log(self, entry: LogEntry) -> None:
        self._entries[(entry.group_key, entry.receiver, entry.integration)] = entry
        self._save()

    def entries(self) -> list[LogEntry]:
        return sorted(self._entries.values(), key=lambda e: e.timestamp)

    def gc(self, now: datetime) -> None:
        old = [k for k, e in self._entries.items() if e.timestamp + self._retention < now]
        for k in old:
            del self._entries[k]
        if old:
            self._save()

    def _save(self) -> None:
        if self._state is not None:
            self._state.write("nflog", [e.to_json() for e in self._entries.values()])


class AckStore:
    """Acknowledged alerts: fingerprint → the start time of the occurrence that was acked."""

    def __init__(self, data_dir: Path | None, *, state: StateStore | None = None) -> None:
        self._state = state_of(data_dir, state)
        self._acks: dict[str, datetime] = {}
        self.reload()

    def reload(self) -> None:
        if self._state is not None:
            self._acks = {k: parse_time(v) for k, v in (self._state.read("acks") or {}).items()}

    def ack(self, items: Iterable[tuple[str, datetime]]) -> int:
        n = 0
        for fp, starts_at in items:
            self._acks[fp] = starts_at
            n += 1
        self._save()
        return n

    def is_acked(self, fp: str, starts_at: datetime) -> bool:
        return self._acks.get(fp) == starts_at

    def unack(self, fps: Iterable[str]) -> None:
        changed = False
        for fp in fps:
            changed |= self._acks.pop(fp, None) is not None
        if changed:
            self._save()

    def fingerprints(self) -> set[str]:
        return set(self._acks)

    def _save(self) -> None:
        if self._state is not None:
            self._state.write("acks", {k: v.isoformat() for k, v in self._acks.items()})
