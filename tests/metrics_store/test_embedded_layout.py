"""DuckDB layout of the embedded store: ``ts = ts_u + ts_shift`` is exact, and old databases are migrated."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import duckdb
import numpy as np
import pytest

from metrics_store.embedded._db import Database, _sort_columns
from metrics_store.embedded._head import Chunk


def _chunk(rng: np.random.Generator, n_series: int, n: int, t0: int) -> Chunk:
    refs = rng.integers(1, n_series + 1, n).astype(np.uint32)
    ts = t0 + rng.integers(0, 3_600_000, n).astype(np.int64)
    values = rng.normal(size=n)
    values[rng.random(n) < 0.05] = np.nan
    return Chunk(refs, ts, values)


def _expected(chunks: list[Chunk], start: int, end: int) -> tuple[list[int], list[int], list[int]]:
    rows = []
    for seq, c in enumerate(chunks, 1):
        for r, t, v in zip(c.refs.tolist(), c.ts.tolist(), c.values.tolist(), strict=True):
            if start <= t <= end:
                rows.append((r, t, seq, np.float64(v).view(np.uint64).item()))
    rows.sort(key=lambda x: x[:3])
    return [x[0] for x in rows], [x[1] for x in rows], [x[3] for x in rows]


def test_irregular_timestamps_round_trip_bit_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    db = Database(tmp_path / "m.duckdb")
    chunks = [_chunk(rng, 30, 5000, 1_700_000_000_000 + k * 1_800_000) for k in range(3)]
    for c in chunks:
        db.fold(c, [])
    for start, end in [(0, 2**62), (1_700_001_000_000, 1_700_002_500_000), (1, 2)]:
        refs, ts, values, _ = db.query(None, start, end)
        want_refs, want_ts, want_bits = _expected(chunks, start, end)
        assert refs.tolist() == want_refs
        assert ts.tolist() == want_ts
        assert values.view(np.uint64).tolist() == want_bits
    db.close()


def test_database_with_the_earlier_layout_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "m.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE samples (ref UINTEGER NOT NULL, ts BIGINT NOT NULL, v DOUBLE, nb UBIGINT NOT NULL, "
        "seq UINTEGER NOT NULL);"
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value BIGINT NOT NULL);"
        "INSERT INTO meta VALUES ('seq', 2), ('downsampled_until', 0);"
        "INSERT INTO samples VALUES (1, 1000, 1.5, 0, 1), (1, 2000, 2.5, 0, 1),"
        " (2, 1500, NULL, 9221120237041090561, 1), (1, 2000, 3.5, 0, 2), (2, 900, 4.0, 0, 2)"
    )
    con.close()
    db = Database(path)
    refs, ts, values, seq = db.query(None, 0, 10_000)
    assert refs.tolist() == [1, 1, 1, 2, 2]
    assert ts.tolist() == [1000, 2000, 2000, 900, 1500]
    assert seq.tolist() == [1, 1, 2, 2, 1]
    assert values[:4].tolist() == [1.5, 2.5, 3.5, 4.0]
    assert values[4:].view(np.uint64).tolist() == [9221120237041090561]
    assert db.query(None, 1000, 1500)[1].tolist() == [1000, 1500]
    db.close()


def test_a_fold_over_several_time_blocks_is_one_checkpoint_per_block(tmp_path: Path) -> None:
    # 5 h of 4 series at 15 s from 1 h before a 2 h block edge: the fold spans 3 blocks
    t0 = 1_700_006_400_000 - 3_600_000
    ts = np.arange(t0, t0 + 5 * 3_600_000, 15_000, dtype=np.int64)
    chunk = Chunk(
        np.repeat(np.arange(1, 5, dtype=np.uint32), len(ts)),
        np.tile(ts, 4),
        np.arange(4 * len(ts), dtype=float),
    )
    path = tmp_path / "m.duckdb"
    db = Database(path)
    db.fold(chunk, [])
    refs, got_ts, values, _ = db.query(None, t0 + 1_000_000, t0 + 4 * 3_600_000)  # crosses 3 blocks
    keep = (chunk.ts >= t0 + 1_000_000) & (chunk.ts <= t0 + 4 * 3_600_000)
    assert refs.tolist() == chunk.refs[keep].tolist()
    assert got_ts.tolist() == chunk.ts[keep].tolist()
    assert values.tolist() == chunk.values[keep].tolist()
    db.close()
    con = duckdb.connect(str(path), read_only=True)
    per_seq = con.execute(
        "SELECT seq, min(ts_u + ts_shift), max(ts_u + ts_shift), count(*) FROM samples "
        "GROUP BY seq ORDER BY seq"
    ).fetchall()
    spans = con.execute("SELECT seq, min_ts, max_ts FROM spans ORDER BY seq").fetchall()
    con.close()
    assert [row[:3] for row in per_seq] == [tuple(s) for s in spans]
    assert sum(row[3] for row in per_seq) == len(chunk)
    hour, step = 3_600_000, 15_000
    # the newest block reaches back over the one before it: the last 2-4 h stay one sorted run
    assert [(lo, hi) for _, lo, hi in spans] == [(t0, t0 + hour - step), (t0 + hour, t0 + 5 * hour - step)]


@pytest.mark.parametrize("overlapping", [False, True], ids=["runs-in-time-order", "overlapping-runs"])
@pytest.mark.parametrize("seed", range(5))
def test_read_rows_are_sorted_by_ref_ts_seq_with_every_column(seed: int, overlapping: bool) -> None:
    """The read's sort (column by column, freeing each unsorted one) gives every column in (ref, ts, seq)
    order: checkpoints in time order (the stable sort by ref) and overlapping ones with duplicate
    ``(ref, ts)`` (the three-key fallback), equal to a three-key sort of the rows as they came."""
    rng = np.random.default_rng(seed)
    runs = []
    for k in range(1, int(rng.integers(2, 6))):
        run_refs = np.sort(rng.integers(0, 20, 200)).astype(np.uint32)
        base = rng.integers(0, 50, 200) if overlapping else 1_000 * k + rng.integers(0, 50, 200)
        run_ts = (run_refs.astype(np.int64) * 10_000 + base).astype(np.int64)
        order = np.lexsort((run_ts, run_refs))
        runs.append((run_refs[order], run_ts[order], np.full(200, k, dtype=np.uint32)))
    ref = np.concatenate([r[0] for r in runs])
    ts = np.concatenate([r[1] for r in runs])
    seq = np.concatenate([r[2] for r in runs])
    v = rng.random(len(ref))
    want = np.lexsort((seq, ts, ref))
    cols: dict[str, np.ndarray] = {"ref": ref.copy(), "ts": ts.copy(), "seq": seq.copy(), "v": v.copy()}
    _sort_columns(cols)
    assert cols["ref"].tolist() == ref[want].tolist()
    assert cols["ts"].tolist() == ts[want].tolist()
    assert cols["seq"].tolist() == seq[want].tolist()
    assert cols["v"].tolist() == v[want].tolist()


def test_read_sort_holds_one_column_copy_at_a_time() -> None:
    """1M rows from 12 checkpoints in time order (~24 MB: a long range's slice): sorting them takes the
    permutation and one column's copy beyond the rows (~16 MB), not a second copy of every column."""
    n_refs, per_run, runs = 200, 417, 12
    tracemalloc.start()  # before the rows exist, so that freeing them counts
    try:
        ref = np.tile(np.repeat(np.arange(n_refs, dtype=np.uint32), per_run), runs)
        within = np.tile(np.arange(per_run, dtype=np.int64), n_refs)
        ts = np.concatenate([within + k * per_run for k in range(runs)]) * 15_000
        seq = np.repeat(np.arange(1, runs + 1, dtype=np.uint32), n_refs * per_run)
        cols: dict[str, np.ndarray] = {"ref": ref, "ts": ts, "seq": seq, "v": np.zeros(len(ref))}
        del ref, ts, seq, within
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        _sort_columns(cols)
        extra = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert bool((np.diff(cols["ref"].astype(np.int64)) >= 0).all())
    assert extra < 20_000_000, f"{extra / 1e6:.1f} MB beyond the rows"
