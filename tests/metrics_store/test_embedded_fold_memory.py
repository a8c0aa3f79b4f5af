"""The fold's memory: what it holds during DuckDB's insert and what it gives back after (issue 18)."""

from __future__ import annotations

import platform
import weakref
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from prometheus_client import CollectorRegistry

from metrics_store.embedded import _db, _malloc
from metrics_store.embedded._db import Database, _checkpoint_rows
from metrics_store.embedded._head import Chunk
from metrics_store.embedded.store import EmbeddedStore
from metrics_store.errors import DatabaseError

_T0 = 1_700_000_000_000
_BLOCK_MS = 2 * 3600 * 1000


def _chunk(n: int, t0: int = _T0, span_ms: int = 60_000) -> Chunk:
    rng = np.random.default_rng(3)
    refs = rng.integers(1, 50, n).astype(np.uint32)
    ts = t0 + rng.integers(0, span_ms, n).astype(np.int64)
    return Chunk(refs, ts, rng.normal(size=n))


def _watched(n: int) -> tuple[list[weakref.ref[npt.NDArray[np.generic]]], list[Chunk]]:
    """A chunk in a one-item list (so the test can hand over its only reference) and weak references to
    its arrays."""
    chunk = _chunk(n)
    return [weakref.ref(a) for a in (chunk.refs, chunk.ts, chunk.values)], [chunk]


def test_the_fold_lets_go_of_its_chunk_before_the_insert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(tmp_path / "m.duckdb")
    arrays, holder = _watched(5000)
    alive_at_insert: list[bool] = []
    insert_sql = _db._insert_sql

    def spy(batch: dict[str, npt.NDArray[np.generic]]) -> str:
        alive_at_insert.extend(a() is not None for a in arrays)
        return insert_sql(batch)

    monkeypatch.setattr(_db, "_insert_sql", spy)
    db.fold(holder.pop(), [])  # the fold holds the only reference, as with the store's concatenation
    assert alive_at_insert == [False, False, False]
    refs, _, _, _ = db.query(None, 0, 2**62)
    assert len(refs) == 5000
    db.close()


def test_constant_columns_are_left_out_of_the_batch_and_stored_as_constants(tmp_path: Path) -> None:
    plain = _chunk(3000)
    batch, spans = _checkpoint_rows(plain)
    assert set(batch) == {"ref", "ts_u", "ts_shift", "v"} and len(spans) == 1
    nan = _chunk(3000)
    nan.values[::7] = np.frombuffer(np.uint64(0x7FF8000000000123).tobytes(), np.float64)[0]
    assert "nb" in _checkpoint_rows(nan)[0] and "blk" not in _checkpoint_rows(nan)[0]
    wide = _chunk(3000, span_ms=3 * _BLOCK_MS)
    assert "blk" in _checkpoint_rows(wide)[0] and len(_checkpoint_rows(wide)[1]) > 1

    db = Database(tmp_path / "m.duckdb")
    db.fold(plain, [])
    db.fold(nan, [])
    stored = db._con.execute(
        "SELECT seq, count(*), max(nb) FROM samples GROUP BY seq ORDER BY seq"
    ).fetchall()
    assert stored == [(1, 3000, 0), (2, 3000, 0x7FF8000000000123)]
    _, _, values, seq = db.query(None, 0, 2**62)
    bits = values.view(np.uint64)
    assert int((bits[seq == 2] == 0x7FF8000000000123).sum()) == int(np.isnan(nan.values).sum())
    assert not np.isnan(values[seq == 1]).any()
    db.close()


def test_a_checkpoint_trims_after_the_head_it_folded_is_freed_and_also_when_the_fold_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last trim of a checkpoint comes after the head's chunks are freed (a trim before that handed
    nothing back: the head stayed resident until the next fold); a failed fold trims too."""
    store = EmbeddedStore(tmp_path, registry=CollectorRegistry(), background=False)
    ref = store.series_ref((("__name__", "up"),))
    store.append([ref], [_T0], [1.0])
    head_arrays = [weakref.ref(a) for c in store._head.chunks for a in (c.refs, c.ts, c.values)]
    assert head_arrays
    head_alive_at_trim: list[bool] = []

    def counted() -> bool:
        head_alive_at_trim.append(any(a() is not None for a in head_arrays))
        return True

    monkeypatch.setattr(_malloc, "trim", counted)
    assert store.checkpoint()
    assert head_alive_at_trim and head_alive_at_trim[-1] is False, head_alive_at_trim
    head_alive_at_trim.clear()
    assert not store.checkpoint() and head_alive_at_trim == []  # nothing to fold: no trim either

    def broken(*_: object) -> None:
        raise DatabaseError("checkpoint: disk full")

    store.append([ref], [_T0 + 1000], [2.0])
    monkeypatch.setattr(store._db, "fold", broken)
    with pytest.raises(DatabaseError):
        store.checkpoint()
    assert len(head_alive_at_trim) == 1  # trimmed once; the head stays frozen for the next try
    monkeypatch.undo()
    store.close()


def test_trim_is_found_in_the_loaded_c_library_exactly_on_glibc() -> None:
    """The call is found and made on glibc, and is a no-op elsewhere (musl, macOS) rather than an error; what
    it hands back is measured in bench/ingest_rss.py."""
    assert _malloc.trim() is (platform.libc_ver()[0] == "glibc")
