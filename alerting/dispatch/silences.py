"""Silences: matchers plus a time range; pending → active → expired. Persisted to ``silences.json``.

Updating follows Alertmanager: a silence is changed in place when its matchers are unchanged and it is
pending, or active with an end not in the past; otherwise the old one is expired and a new id issued.
Expired silences are kept for ``retention_s`` (default 5 days) then dropped. Thread-safe.
A stored silence whose regex RE2 refuses (saved before regexes were RE2) is skipped at load with a warning.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from alerting.base import AlertingError
from alerting.dispatch._matchers import Matcher, MatcherError, matchers_match
from alerting.dispatch._persist import StateStore, parse_time, state_of, utc_now

__all__ = [
    "Silence",
    "SilenceError",
    "SilenceLimit",
    "SilenceLimitError",
    "SilenceNotFoundError",
    "SilenceState",
    "Silences",
]

SilenceState = Literal["pending", "active", "expired"]

log = logging.getLogger(__name__)


class SilenceError(AlertingError):
    """A silence is invalid (bad matchers, end before start, end in the past)."""


class SilenceNotFoundError(SilenceError):
    """No silence with that id."""


class SilenceLimitError(SilenceError):
    """A new silence is refused: the limit ``reason`` (a config key) on the silences held is reached."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# the held silences -> None, or (the limit's key, why the new silence is refused)
SilenceLimit = Callable[[Sequence["Silence"]], tuple[str, str] | None]


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    updated_at: datetime

    def state(self, now: datetime) -> SilenceState:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": [{"name": m.name, "type": m.type, "value": m.value} for m in self.matchers],
            "startsAt": self.starts_at.isoformat(),
            "endsAt": self.ends_at.isoformat(),
            "createdBy": self.created_by,
            "comment": self.comment,
            "updatedAt": self.updated_at.isoformat(),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Silence:
        return cls(
            id=d["id"],
            matchers=tuple(Matcher.create(m["name"], m["type"], m["value"]) for m in d["matchers"]),
            starts_at=parse_time(d["startsAt"]),
            ends_at=parse_time(d["endsAt"]),
            created_by=d["createdBy"],
            comment=d["comment"],
            updated_at=parse_time(d["updatedAt"]),
        )


class Silences:
    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        retention_s: float = 5 * 86400,
        state: StateStore | None = None,
    ) -> None:
        """Kept in ``state`` (default: ``silences.json`` under ``data_dir``; neither: in memory only)."""
        self._clock = clock
        self._state = state_of(data_dir, state)
        self._retention = timedelta(seconds=retention_s)
        self._lock = threading.Lock()
        self._by_id: dict[str, Silence] = {}
        self.version = 0  # bumped on every change
        self.reload()

    def reload(self) -> None:
        """Re-read the stored silences (a new leader starts from what the old one kept)."""
        if self._state is None:
            return
        by_id: dict[str, Silence] = {}
        for d in self._state.read("silences") or []:
            try:
                s = Silence.from_json(d)
            except MatcherError as exc:
                log.warning("silences: skipping silence %s: %s", d.get("id"), exc)
                continue
            by_id[s.id] = s
        with self._lock:
            self._by_id = by_id
            self.version += 1

    def _save(self) -> None:
        self.version += 1
        if self._state is not None:
            self._state.write("silences", [s.to_json() for s in self._by_id.values()])

    def set(
        self,
        matchers: Sequence[Matcher],
        *,
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
        silence_id: str | None = None,
        limit: SilenceLimit | None = None,
    ) -> str:
        """Create or update a silence; returns its (possibly new) id. A silence that does not replace a held
        (active or pending) one, new or the update of an expired one, is first shown to ``limit`` with the
        active and pending silences held: a text it returns refuses it (:class:`SilenceLimitError`)."""
        now = self._clock()
        if not matchers:
            raise SilenceError("silence needs at least one matcher")
        if all(m.matches("") for m in matchers):
            raise SilenceError("at least one matcher must not match the empty string")
        if ends_at < starts_at:
            raise SilenceError("end time must not be before start time")
        if ends_at < now:
            raise SilenceError("end time can't be in the past")
        starts_at = max(starts_at, now)
        with self._lock:
            new = Silence("", tuple(matchers), starts_at, ends_at, created_by, comment, now)
            replaces_held = False
            if silence_id:
                old = self._by_id.get(silence_id)
                if old is None:
                    raise SilenceNotFoundError(f"silence {silence_id} not found")
                if self._can_update(old, new, now):
                    # keep the original start for active silences (it was already in effect)
                    start = old.starts_at if old.state(now) == "active" else new.starts_at
                    self._by_id[old.id] = replace(new, id=old.id, starts_at=start)
                    self._save()
                    return old.id
                if old.state(now) != "expired":
                    self._by_id[old.id] = self._expired(old, now)
                    replaces_held = True
            if limit is not None and not replaces_held:
                refused = limit([s for s in self._by_id.values() if s.state(now) != "expired"])
                if refused is not None:
                    raise SilenceLimitError(*refused)
            sid = str(uuid.uuid4())
            self._by_id[sid] = replace(new, id=sid)
            self._save()
            return sid

    @staticmethod
    def _can_update(old: Silence, new: Silence, now: datetime) -> bool:
        if set(old.matchers) != set(new.matchers):
            return False
        state = old.state(now)
        if state == "active":
            return new.ends_at >= now
        return state == "pending"

    @staticmethod
    def _expired(s: Silence, now: datetime) -> Silence:
        start = now if s.state(now) == "pending" else s.starts_at
        return replace(s, starts_at=start, ends_at=now, updated_at=now)

    def expire(self, silence_id: str) -> None:
        now = self._clock()
        with self._lock:
            s = self._by_id.get(silence_id)
            if s is None:
                raise SilenceNotFoundError(f"silence {silence_id} not found")
            if s.state(now) == "expired":
                raise SilenceError(f"silence {silence_id} already expired")
            self._by_id[silence_id] = self._expired(s, now)
            self._save()

    def get(self, silence_id: str) -> Silence:
        with self._lock:
            s = self._by_id.get(silence_id)
        if s is None:
            raise SilenceNotFoundError(f"silence {silence_id} not found")
        return s

    def all(self) -> list[Silence]:
        self.gc()
        with self._lock:
            return list(self._by_id.values())

    def gc(self) -> int:
        """Drop silences expired longer than the retention; returns how many."""
        now = self._clock()
        with self._lock:
            old = [i for i, s in self._by_id.items() if s.ends_at < now - self._retention]
            for i in old:
                del self._by_id[i]
            if old:
                self._save()
        return len(old)

    def mutes(self, labels: Mapping[str, str]) -> list[str]:
        """Ids of the active silences that match these labels, sorted."""
        now = self._clock()
        with self._lock:
            hits = [
                s.id
                for s in self._by_id.values()
                if s.state(now) == "active" and matchers_match(s.matchers, labels)
            ]
        return sorted(hits)

    def count(self, state: SilenceState) -> int:
        now = self._clock()
        with self._lock:
            return sum(1 for s in self._by_id.values() if s.state(now) == state)
