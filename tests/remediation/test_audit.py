"""Audit logs: one contract for SQLite and memory; SQLite refuses UPDATE and DELETE."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from remediation.audit import MemoryAuditLog, SqliteAuditLog, started_since
from remediation.base import AuditLog
from remediation.model import ActionRequest, AuditEvent, Target
from tests.remediation._support import T0


def req(i: int, app: str = "web") -> ActionRequest:
    return ActionRequest(
        f"r{i}", "p", "abc", "restart_app", Target(app), {}, "live", T0 + timedelta(seconds=i)
    )


@pytest.fixture(params=["memory", "sqlite"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditLog]:
    if request.param == "memory":
        yield MemoryAuditLog()
    else:
        s = SqliteAuditLog(tmp_path / "audit.db")
        yield s
        s.close()


def test_record_dedup_fold_query_open(log: AuditLog) -> None:
    assert log.record(req(1)) and not log.record(req(1))
    assert log.record(req(2, "api"))
    log.append(AuditEvent("r1", "started", T0 + timedelta(seconds=5)))
    log.append(AuditEvent("r2", "refused", T0 + timedelta(seconds=5), {"rail": "lock"}))
    r1 = log.get("r1")
    assert (
        r1 is not None
        and r1.status == "running"
        and [e.seq for e in r1.events] == sorted(e.seq for e in r1.events)
    )
    assert [r.request.id for r in log.query()] == ["r2", "r1"]
    assert [r.request.id for r in log.query(app="api")] == ["r2"]
    assert [r.request.id for r in log.query(status="running")] == ["r1"]
    assert [r.request.id for r in log.open_actions()] == ["r1"]
    assert [s.action_id for s in started_since(log, T0)] == ["r1"]
    assert started_since(log, T0 + timedelta(seconds=6)) == []
    assert log.get("nope") is None


def test_sqlite_is_append_only_and_durable(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    log = SqliteAuditLog(path)
    log.record(req(1))
    log.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for sql in (
        "UPDATE events SET kind='x'",
        "DELETE FROM events",
        "UPDATE requests SET app='x'",
        "DELETE FROM requests",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(sql)
    db.close()
    again = SqliteAuditLog(path)
    rec = again.get("r1")
    assert rec is not None and rec.request == req(1)
