"""In-memory audit log for simulations (``policy test``, ``backtest``) and unit tests. Thread-safe."""

from __future__ import annotations

import bisect
import threading
from dataclasses import replace
from datetime import datetime

from platforms.tenancy import FOUNDATION, Scope
from remediation.audit._codec import StartedAction, fold
from remediation.model import TERMINAL_STATUSES, ActionRecord, ActionRequest, AuditEvent

__all__ = ["MemoryAuditLog"]


class MemoryAuditLog:
    """Same behaviour as :class:`remediation.audit.SqliteAuditLog`, nothing durable."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self._requests: dict[str, ActionRequest] = {}
        self._events: dict[str, list[AuditEvent]] = {}
        self._started: list[tuple[float, str]] = []  # (epoch, action_id), sorted by time

    def append(self, event: AuditEvent) -> AuditEvent:
        with self._lock:
            self._seq += 1
            ev = replace(event, seq=self._seq)
            self._events.setdefault(ev.action_id, []).append(ev)
            if ev.kind == "started":
                bisect.insort(self._started, (ev.at.timestamp(), ev.action_id))
            return ev

    def record(self, request: ActionRequest) -> bool:
        if not self.record_only(request):
            return False
        self.append(AuditEvent(request.id, "requested", request.created_at, {}))
        return True

    def record_only(self, request: ActionRequest) -> bool:
        """Keep ``request`` without its ``requested`` event (a mirror replaying a journal); False if known."""
        with self._lock:
            if request.id in self._requests:
                return False
            self._requests[request.id] = request
            return True

    def get(self, action_id: str) -> ActionRecord | None:
        with self._lock:
            req = self._requests.get(action_id)
            if req is None:
                return None
            return fold(req, list(self._events.get(action_id, [])))

    def events(self, action_id: str) -> list[AuditEvent]:
        """Every event of ``action_id`` (also ids without a request, e.g. ``policy:<name>`` mode changes)."""
        with self._lock:
            return list(self._events.get(action_id, []))

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
        with self._lock:
            reqs = [
                r
                for r in self._requests.values()
                if (policy is None or r.policy == policy)
                and (app is None or r.target.app == app)
                and (since is None or r.created_at >= since)
                and (until is None or r.created_at <= until)
                and scope.sees(r.org, r.space)
            ]
        reqs.sort(key=lambda r: r.created_at, reverse=True)
        out: list[ActionRecord] = []
        for r in reqs:
            rec = self.get(r.id)
            if rec is not None and (status is None or rec.status == status):
                out.append(rec)
                if len(out) >= limit:
                    break
        return out

    def open_actions(self) -> list[ActionRecord]:
        with self._lock:
            ids = list(self._requests)
        recs = [self.get(i) for i in ids]
        return [r for r in recs if r is not None and r.status not in TERMINAL_STATUSES]

    def started_since(self, since: datetime) -> list[StartedAction]:
        with self._lock:
            i = bisect.bisect_left(self._started, (since.timestamp(), ""))
            hits = self._started[i:]
            return [
                StartedAction(aid, self._requests[aid].policy, self._requests[aid].target, self._at(aid))
                for _, aid in hits
                if aid in self._requests
            ]

    def _at(self, action_id: str) -> datetime:
        return next(e.at for e in self._events[action_id] if e.kind == "started")
