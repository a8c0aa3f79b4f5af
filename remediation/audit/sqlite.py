"""SQLite audit log: the durable, append-only journal of every remediation decision.

* Append-only by construction: triggers abort any UPDATE or DELETE on both tables.
* Durable before returning: WAL journal with ``synchronous=FULL``, one transaction per append, so an
  ``started`` event is on disk before the platform call it announces.
* Thread-safe: one connection guarded by a lock (appends are short).
* Tenancy: ``requests.org``/``requests.space`` (also in the JSON body) index each action's tenant for
  :meth:`SqliteAuditLog.query` with a scope. A journal written before tenancy gains the two columns when
  opened (``ALTER TABLE ... ADD COLUMN``: no row is rewritten); its old rows have NULL there and no
  org/space in their body, so they belong to the foundation.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platforms.tenancy import FOUNDATION, Scope
from remediation.audit._codec import StartedAction, dumps, fold, request_from_dict, request_to_dict
from remediation.base import RemediationError
from remediation.model import TERMINAL_STATUSES, ActionRecord, ActionRequest, AuditEvent, Target

__all__ = ["AuditLogError", "SqliteAuditLog"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY, policy TEXT NOT NULL, app TEXT NOT NULL, instance INTEGER,
    created_at REAL NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, action_id TEXT NOT NULL, kind TEXT NOT NULL,
    at REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_action ON events(action_id, seq);
CREATE INDEX IF NOT EXISTS events_kind_at ON events(kind, at);
CREATE INDEX IF NOT EXISTS requests_created ON requests(created_at);
"""
_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, 'audit log is append-only: {op} on {table} refused'); END;"
    for table in ("requests", "events")
    for op in ("UPDATE", "DELETE")
]


_TENANT_COLUMNS = ("org", "space")


def _migrate(db: sqlite3.Connection) -> None:
    """Add the tenancy columns to a journal from before tenancy (NULL = the foundation's)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(requests)").fetchall()}
    for column in _TENANT_COLUMNS:
        if column not in have:
            db.execute(f"ALTER TABLE requests ADD COLUMN {column} TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS requests_tenant ON requests(org, space)")


def scope_clause(scope: Scope) -> tuple[str, list[str]] | None:
    """The SQL condition (over ``org``/``space``) selecting what ``scope`` sees, with its parameters; None
    for the foundation scope (no condition). A scope without grants gives a condition that is never true."""
    if scope.grants is None:
        return None
    parts: list[str] = []
    args: list[str] = []
    for g in scope.grants:
        if g.space is None:
            parts.append("(org = ?)")
            args.append(g.org)
        else:
            parts.append("(org = ? AND space = ?)")
            args += [g.org, g.space]
    return ("(" + " OR ".join(parts) + ")" if parts else "0", args)


class AuditLogError(RemediationError):
    """The audit database cannot be opened or written (the engine must not act without its journal)."""


def _epoch(t: datetime) -> float:
    return t.timestamp()


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class SqliteAuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            path.chmod(0o600)  # before the WAL exists: SQLite gives its -wal/-shm files the db's mode
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            _migrate(self._db)
            for stmt in _TRIGGERS:
                self._db.execute(stmt)
        except (sqlite3.Error, OSError) as e:
            raise AuditLogError(f"{path}: cannot open the audit log: {e}") from e

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _insert_event(self, event: AuditEvent) -> AuditEvent:
        cur = self._db.execute(
            "INSERT INTO events(action_id, kind, at, data) VALUES (?, ?, ?, ?)",
            (event.action_id, event.kind, _epoch(event.at), dumps(event.data)),
        )
        seq = cur.lastrowid
        assert seq is not None  # sqlite3 always sets it after an INSERT
        return AuditEvent(event.action_id, event.kind, event.at, event.data, seq)

    def append(self, event: AuditEvent) -> AuditEvent:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                ev = self._insert_event(event)
                self._db.execute("COMMIT")
                return ev
            except sqlite3.Error as e:
                self._rollback()
                raise AuditLogError(
                    f"{self.path}: cannot append {event.kind} of {event.action_id}: {e}"
                ) from e

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")

    def record(self, request: ActionRequest) -> bool:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO requests(id, policy, app, instance, created_at, body, org, space) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        request.id,
                        request.policy,
                        request.target.app,
                        request.target.instance,
                        _epoch(request.created_at),
                        dumps(request_to_dict(request)),
                        request.org,
                        request.space,
                    ),
                )
                if cur.rowcount == 0:
                    self._db.execute("ROLLBACK")
                    return False
                self._insert_event(AuditEvent(request.id, "requested", request.created_at, {}))
                self._db.execute("COMMIT")
                return True
            except sqlite3.Error as e:
                self._rollback()
                raise AuditLogError(f"{self.path}: cannot record request {request.id}: {e}") from e

    def _events(self, action_id: str) -> list[AuditEvent]:
        rows = self._db.execute(
            "SELECT seq, kind, at, data FROM events WHERE action_id = ? ORDER BY seq", (action_id,)
        ).fetchall()
        return [AuditEvent(action_id, kind, _dt(at), json.loads(data), seq) for seq, kind, at, data in rows]

    def events(self, action_id: str) -> list[AuditEvent]:
        """Every event of ``action_id`` (also ids without a request, e.g. ``policy:<name>`` mode changes)."""
        with self._lock:
            return self._events(action_id)

    def _record(self, body: str) -> ActionRecord:
        req = request_from_dict(json.loads(body))
        return fold(req, self._events(req.id))

    def get(self, action_id: str) -> ActionRecord | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM requests WHERE id = ?", (action_id,)).fetchone()
            return None if row is None else self._record(row[0])

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
        where: list[str] = []
        args: list[Any] = []
        for cond, value in (
            ("policy = ?", policy),
            ("app = ?", app),
            ("created_at >= ?", None if since is None else _epoch(since)),
            ("created_at <= ?", None if until is None else _epoch(until)),
        ):
            if value is not None:
                where.append(cond)
                args.append(value)
        tenant = scope_clause(scope)
        if tenant is not None:
            where.append(tenant[0])
            args += tenant[1]
        # Only fixed condition strings are joined; every value is a bound parameter.
        clause = " WHERE " + " AND ".join(where) if where else ""
        sql = "SELECT body FROM requests" + clause  # noqa: S608
        sql += " ORDER BY created_at DESC, rowid DESC"
        out: list[ActionRecord] = []
        with self._lock:
            for (body,) in self._db.execute(sql, args).fetchall():
                rec = self._record(body)
                if status is None or rec.status == status:
                    out.append(rec)
                    if len(out) >= limit:
                        break
        return out

    def open_actions(self) -> list[ActionRecord]:
        with self._lock:
            bodies = [
                b for (b,) in self._db.execute("SELECT body FROM requests ORDER BY created_at").fetchall()
            ]
            recs = [self._record(b) for b in bodies]
        return [r for r in recs if r.status not in TERMINAL_STATUSES]

    def started_since(self, since: datetime) -> list[StartedAction]:
        with self._lock:
            rows = self._db.execute(
                "SELECT e.action_id, r.policy, r.app, r.instance, e.at FROM events e "
                "JOIN requests r ON r.id = e.action_id WHERE e.kind = 'started' AND e.at >= ? ORDER BY e.at",
                (_epoch(since),),
            ).fetchall()
        return [StartedAction(a, p, Target(app, inst), _dt(at)) for a, p, app, inst, at in rows]
