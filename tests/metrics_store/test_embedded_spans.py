"""The embedded store's selects find their checkpoints in memory (:class:`Spans`), not with a DuckDB query:
the rows they return are the same as a full scan's, through folds, retention, downsampling and a reopen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from metrics_store.embedded._db import Database
from metrics_store.embedded._head import Chunk

T0 = 1_700_006_400_000  # on a 2 h block edge
MINUTE = 60_000


class _CountingConnection:
    """Wraps the database's DuckDB connection: counts the cursors opened and the statements run on them."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.cursors = 0
        self.statements: list[str] = []

    def cursor(self) -> Any:
        self.cursors += 1
        return _CountingCursor(self.con.cursor(), self.statements)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


class _CountingCursor:
    def __init__(self, cur: duckdb.DuckDBPyConnection, statements: list[str]) -> None:
        self.cur = cur
        self.statements = statements

    def execute(self, sql: str, *args: Any) -> Any:
        self.statements.append(sql)
        return self.cur.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cur, name)


def _chunk(rng: np.random.Generator, t0: int, minutes: int, n_series: int = 8) -> Chunk:
    ts = np.arange(t0, t0 + minutes * MINUTE, 15_000, dtype=np.int64)
    refs = np.repeat(np.arange(1, n_series + 1, dtype=np.uint32), len(ts))
    values = rng.normal(size=len(refs))
    values[rng.random(len(refs)) < 0.05] = np.nan
    keep = rng.random(len(refs)) < 0.8  # gaps, so series differ
    return Chunk(refs[keep], np.tile(ts, n_series)[keep], values[keep])


def _full_scan(path_con: duckdb.DuckDBPyConnection, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(ref, ts, seq, value bits) of every stored row in ``[start, end]``, by scanning ``samples`` whole."""
    rows = path_con.execute(
        "SELECT ref, ts_u + ts_shift AS ts, seq, v, nb FROM samples WHERE ts_u + ts_shift BETWEEN ? AND ?",
        [start, end],
    ).fetchall()
    out = []
    for ref, ts, seq, v, nb in rows:
        bits = int(nb) if v is None else int(np.float64(v).view(np.uint64))
        out.append((int(ref), int(ts), int(seq), bits))
    return sorted(out)


def _selected(
    db: Database, refs: np.ndarray | None, start: int, end: int, ref_range: tuple[int, int]
) -> list[tuple[int, int, int, int]]:
    got_refs, ts, values, seq = db.query(refs, start, end, ref_range=ref_range)
    rows = zip(got_refs.tolist(), ts.tolist(), seq.tolist(), values.view(np.uint64).tolist(), strict=True)
    return sorted((int(r), int(t), int(s), int(b)) for r, t, s, b in rows)


def _check_windows(db: Database, rng: np.random.Generator, span: tuple[int, int], n: int = 60) -> int:
    """Random windows and series sets, each select against a full scan; returns how many had rows."""
    con = db._con
    nonempty = 0
    for _ in range(n):
        start = int(rng.integers(span[0] - 30 * MINUTE, span[1] + 30 * MINUTE))
        end = start + int(rng.integers(0, 180 * MINUTE))
        first = int(rng.integers(1, 9))
        last = int(rng.integers(first, 9))
        every = np.arange(first, last + 1, dtype=np.uint32)
        some = np.unique(rng.choice(every, size=max(1, len(every) // 2))).astype(np.uint32)
        for refs in (None, some):
            wanted = set((every if refs is None else refs).tolist())
            want = [row for row in _full_scan(con, start, end) if row[0] in wanted]
            assert _selected(db, refs, start, end, (first, last)) == want, (start, end, first, last, refs)
            nonempty += bool(want)
    return nonempty


def test_selects_equal_a_full_scan_through_folds_retention_downsampling_and_reopen(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    path = tmp_path / "m.duckdb"
    db = Database(path)
    for k in range(6):  # six folds of 50 min, the third one backfilling before the first
        t0 = T0 + (k if k != 2 else -3) * 50 * MINUTE
        db.fold(_chunk(rng, t0, 50), [])
    span = (T0 - 150 * MINUTE, T0 + 300 * MINUTE)
    assert _check_windows(db, rng, span) > 20
    assert db.delete_before(T0 + 60 * MINUTE) > 0  # retention drops whole and part checkpoints
    assert _check_windows(db, rng, span) > 10
    assert db.downsample(T0 + 120 * MINUTE, 5 * MINUTE) > 0
    assert _check_windows(db, rng, span) > 10
    db.close()
    db = Database(path)  # the spans are read again at open
    assert _check_windows(db, rng, span) > 10
    db.fold(_chunk(rng, T0 + 400 * MINUTE, 20), [])
    assert _check_windows(db, rng, (T0, T0 + 420 * MINUTE)) > 10
    db.close()


def test_a_window_no_checkpoint_overlaps_asks_duckdb_nothing(tmp_path: Path) -> None:
    db = Database(tmp_path / "m.duckdb")
    db.fold(_chunk(np.random.default_rng(1), T0, 30), [])
    counting = _CountingConnection(db._con)
    db._con = counting  # type: ignore[assignment]
    after = T0 + 40 * MINUTE  # the last minutes: still in the store's memory, not in a checkpoint
    refs, ts, values, seq = db.query(None, after, after + 5 * MINUTE, ref_range=(3, 3))
    assert (len(refs), len(ts), len(values), len(seq)) == (0, 0, 0, 0)
    assert (counting.cursors, counting.statements) == (0, [])
    db._con = counting.con
    db.close()


@pytest.mark.parametrize("refs", [None, np.array([3], dtype=np.uint32)])
def test_one_series_select_is_one_statement(tmp_path: Path, refs: np.ndarray | None) -> None:
    """No query of ``spans`` and, for one series (a ``ref_range`` of one ref, as the store passes it), no
    NaN count in a transaction first: the select itself only."""
    rng = np.random.default_rng(2)
    db = Database(tmp_path / "m.duckdb")
    chunk = _chunk(rng, T0, 30)
    db.fold(chunk, [])
    counting = _CountingConnection(db._con)
    db._con = counting  # type: ignore[assignment]
    got = _selected(db, refs, T0, T0 + 10 * MINUTE, (3, 3))
    assert len(counting.statements) == 1, counting.statements
    assert counting.statements[0].startswith("SELECT ref,")
    db._con = counting.con
    want = sorted(
        (3, int(t), 1, int(np.float64(v).view(np.uint64)))
        for r, t, v in zip(chunk.refs.tolist(), chunk.ts.tolist(), chunk.values.tolist(), strict=True)
        if r == 3 and T0 <= t <= T0 + 10 * MINUTE
    )
    assert got == want
    db.close()
