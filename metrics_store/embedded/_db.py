"""DuckDB layout of the embedded store.

Tables::

    series (ref UINTEGER PRIMARY KEY, labels VARCHAR)      -- labels as JSON [[name, value], ...]
    samples(ref UINTEGER, ts BIGINT, v DOUBLE, nb UBIGINT, seq UINTEGER)
    meta   (key VARCHAR PRIMARY KEY, value BIGINT)         -- 'seq', 'downsampled_until'

DuckDB turns NaN in numpy input into NULL, so a NaN value is stored as ``v = NULL`` plus its exact bit
pattern in ``nb`` (0 for every non-NaN value, which compresses to nothing); ordinary NaN and the staleness
marker therefore stay distinct. ``seq`` numbers checkpoints: for duplicate ``(ref, ts)`` the row with the
highest ``seq`` is the last write. Each checkpoint inserts its rows sorted by ``(ref, ts)`` so zone maps
prune both columns.

Thread safety: reads may run from any thread concurrently (each uses its own cursor); writes are serialised
by an internal lock.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt

from metrics_store.embedded._head import Chunk
from metrics_store.errors import DatabaseError
from metrics_store.model import Labels

__all__ = ["Database", "Rows"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (ref UINTEGER PRIMARY KEY, labels VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    ref UINTEGER NOT NULL, ts BIGINT NOT NULL, v DOUBLE, nb UBIGINT NOT NULL, seq UINTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO meta VALUES ('seq', 0), ('downsampled_until', 0) ON CONFLICT DO NOTHING;
"""

Rows = tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int64]]
"""(refs, timestamps, values, priority) — priority orders duplicates: higher wins."""

_names = itertools.count()


class Database:
    def __init__(self, path: Path) -> None:
        self._write_lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._con = duckdb.connect(str(path))
            self._con.execute(_SCHEMA)
        except (duckdb.Error, OSError) as e:
            raise DatabaseError(f"cannot open {path}: {e}") from e

    @contextmanager
    def _cursor(self, what: str) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            cur = self._con.cursor()
        except duckdb.Error as e:
            raise DatabaseError(f"{what}: {e}") from e
        try:
            yield cur
        except duckdb.Error as e:
            raise DatabaseError(f"{what}: {e}") from e
        finally:
            cur.close()

    def load_series(self) -> list[tuple[int, Labels]]:
        with self._cursor("load series") as cur:
            rows = cur.execute("SELECT ref, labels FROM series ORDER BY ref").fetchall()
        return [(int(ref), tuple((k, v) for k, v in json.loads(text))) for ref, text in rows]

    def meta(self, key: str) -> int:
        with self._cursor("read meta") as cur:
            row = cur.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return int(row[0]) if row else 0

    def fold(self, chunk: Chunk, series: list[tuple[int, Labels]]) -> None:
        """Insert new series and a checkpoint's samples in one transaction."""
        order = np.lexsort((chunk.ts, chunk.refs))
        values = chunk.values[order]
        nan = np.isnan(values)
        batch = {
            "ref": chunk.refs[order],
            "ts": chunk.ts[order],
            "v": values,
            "nb": np.where(nan, values.view(np.uint64), np.uint64(0)),
        }
        new_series = {
            "ref": np.array([r for r, _ in series], dtype=np.uint32),
            "labels": np.array([json.dumps(lbl, separators=(",", ":")) for _, lbl in series], dtype=object),
        }
        with self._write_lock, self._cursor("checkpoint") as cur:
            cur.begin()
            try:
                seq = int(
                    cur.execute(
                        "UPDATE meta SET value = value + 1 WHERE key = 'seq' RETURNING value"
                    ).fetchall()[0][0]
                )
                if series:
                    cur.register("new_series", new_series)
                    cur.execute(
                        "INSERT INTO series SELECT ref, labels FROM new_series ON CONFLICT DO NOTHING"
                    )
                if len(chunk):
                    cur.register("batch", batch)
                    cur.execute("INSERT INTO samples SELECT ref, ts, v, nb, ? FROM batch", [seq])
                cur.commit()
            except BaseException:
                cur.rollback()
                raise

    def query(self, refs: npt.NDArray[np.uint32] | None, start_ms: int, end_ms: int) -> Rows:
        """Rows in ``[start_ms, end_ms]`` for ``refs`` (all refs when None), ordered by (ref, ts, seq)."""
        sql = "SELECT ref, ts, coalesce(v, 0.0) AS v, nb, seq FROM samples WHERE ts BETWEEN ? AND ?"
        with self._cursor("select") as cur:
            if refs is not None:
                name = f"qrefs_{next(_names)}"
                cur.register(name, {"ref": refs})
                sql += f" AND ref IN (SELECT ref FROM {name})"  # noqa: S608 -- generated identifier
            res = cur.execute(sql + " ORDER BY ref, ts, seq", [start_ms, end_ms]).fetchnumpy()
        v = np.asarray(res["v"], dtype=np.float64)
        nb = np.asarray(res["nb"], dtype=np.uint64)
        nan = nb != 0
        if nan.any():
            v = v.copy()
            v[nan] = nb[nan].view(np.float64)
        return (
            np.asarray(res["ref"], dtype=np.uint32),
            np.asarray(res["ts"], dtype=np.int64),
            v,
            np.asarray(res["seq"], dtype=np.int64),
        )

    def delete_before(self, cutoff_ms: int) -> int:
        with self._write_lock, self._cursor("retention") as cur:
            row = cur.execute("DELETE FROM samples WHERE ts < ? RETURNING 1", [cutoff_ms]).fetchall()
            return len(row)

    def downsample(self, cutoff_ms: int, resolution_ms: int) -> int:
        """Keep only the last sample per (series, bucket) for ``ts < cutoff_ms`` (cutoff on a bucket edge)
        above the previous watermark; returns the number of rows removed."""
        with self._write_lock, self._cursor("downsample") as cur:
            lo = int(cur.execute("SELECT value FROM meta WHERE key = 'downsampled_until'").fetchall()[0][0])
            if cutoff_ms <= lo:
                return 0
            cur.begin()
            try:
                before = int(
                    cur.execute(
                        "SELECT count(*) FROM samples WHERE ts >= ? AND ts < ?", [lo, cutoff_ms]
                    ).fetchall()[0][0]
                )
                cur.execute(
                    "CREATE TEMP TABLE ds AS SELECT ref, ts, v, nb, seq FROM samples "
                    "WHERE ts >= ? AND ts < ? "
                    "QUALIFY row_number() OVER (PARTITION BY ref, ts // ? ORDER BY ts DESC, seq DESC) = 1",
                    [lo, cutoff_ms, resolution_ms],
                )
                after = int(cur.execute("SELECT count(*) FROM ds").fetchall()[0][0])
                cur.execute("DELETE FROM samples WHERE ts >= ? AND ts < ?", [lo, cutoff_ms])
                cur.execute("INSERT INTO samples SELECT * FROM ds ORDER BY ref, ts")
                cur.execute("DROP TABLE ds")
                cur.execute("UPDATE meta SET value = ? WHERE key = 'downsampled_until'", [cutoff_ms])
                cur.commit()
            except BaseException:
                cur.rollback()
                raise
            return before - after

    def compact_storage(self) -> None:
        with self._write_lock, self._cursor("checkpoint database") as cur:
            cur.execute("CHECKPOINT")

    def close(self) -> None:
        try:
            self._con.close()
        except duckdb.Error as e:
            raise DatabaseError(f"close: {e}") from e
