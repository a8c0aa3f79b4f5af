"""DuckDB layout of the embedded store.

Tables::

    series (ref UINTEGER PRIMARY KEY, labels VARCHAR)      -- labels as JSON [[name, value], ...]
    samples(ref UINTEGER, ts_u BIGINT, ts_shift BIGINT, v DOUBLE, nb UBIGINT, seq UINTEGER)
    spans  (seq UINTEGER PRIMARY KEY, min_ts BIGINT, max_ts BIGINT)   -- time range of each checkpoint
    meta   (key VARCHAR PRIMARY KEY, value BIGINT)         -- 'seq', 'downsampled_until'

A sample's timestamp is ``ts_u + ts_shift``. Rows are inserted sorted by ``(ref, ts)``; ``ts_u`` runs on
across series boundaries with the usual scrape step (instead of jumping back to the next series' first
timestamp), so DuckDB bit-packs it as a near-constant delta, and ``ts_shift`` is constant per series run
(RLE). Storing ``ts`` itself cost ~3.5 bytes/sample: every 2,048-value bit-packing group spans several
series and the jumps widen the deltas to ~24 bits. Queries prune by checkpoint (``seq`` zone maps, via
``spans``) and filter on the sum. A checkpoint holds at most one 2 h time block (aligned on the epoch;
the newest of a fold reaches back over the one before it): a fold whose samples span more is written as
one checkpoint per block, in time order, so a query
of the last hour does not compute the timestamp of every row of a backfilled day (``ts`` is not a column
whose zone maps could prune, and rows sorted by ref put every hour of a series in the same row groups).
Databases written before keep their wider checkpoints; they are read the same way, only not pruned.

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
from json.encoder import encode_basestring_ascii as _json_str
from pathlib import Path
from typing import cast

import duckdb
import numpy as np
import numpy.typing as npt

from metrics_store.embedded import _malloc
from metrics_store.embedded._head import Chunk
from metrics_store.embedded._spans import Spans
from metrics_store.errors import DatabaseError
from metrics_store.model import Labels

__all__ = ["Database", "Rows", "labels_json"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (ref UINTEGER PRIMARY KEY, labels VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    ref UINTEGER NOT NULL, ts_u BIGINT NOT NULL, ts_shift BIGINT NOT NULL, v DOUBLE, nb UBIGINT NOT NULL,
    seq UINTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS spans (seq UINTEGER PRIMARY KEY, min_ts BIGINT NOT NULL, max_ts BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO meta VALUES ('seq', 0), ('downsampled_until', 0) ON CONFLICT DO NOTHING;
"""

Rows = tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.uint32]]
"""(refs, timestamps, values, priority) — priority (the checkpoint's ``seq``, as stored: uint32) orders
duplicates: higher wins."""

_BLOCK_MS = 2 * 3600 * 1000  # time block of a checkpoint (as Prometheus' head blocks), aligned on the epoch
_SMALL_SELECT = 64  # refs: at most this many, the NaN column is read without counting NaNs first
_names = itertools.count()

_TS = "(ts_u + ts_shift)"


def labels_json(labels: Labels) -> str:
    """``labels`` as the ``series.labels`` column stores them: exactly ``json.dumps(labels,
    separators=(",", ":"))`` (ASCII, the same C string escaper), without building a JSON encoder per call:
    a fold of 100k new series spent about half its Python time in ``json.dumps`` (py-spy, issue 18)."""
    return "[" + ",".join([f"[{_json_str(k)},{_json_str(v)}]" for k, v in labels]) + "]"


def _no_rows() -> Rows:
    return np.empty(0, np.uint32), np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.uint32)


# Rows of ``{src}`` (ref, ts, v, nb, seq) as samples rows in ``{order}``: ``ts_u`` accumulates the
# within-series steps and takes ``?`` (the expected step) at each series boundary.
_AS_SAMPLES = """
SELECT ref, ts_u, ts - ts_u AS ts_shift, v, nb, seq FROM (
    SELECT ref, ts, v, nb, seq,
           CAST(sum(d) OVER (ORDER BY {order} ROWS UNBOUNDED PRECEDING) AS BIGINT) AS ts_u
    FROM (
        SELECT ref, ts, v, nb, seq,
               CASE WHEN ref = lag(ref) OVER w THEN ts - lag(ts) OVER w ELSE ? END AS d
        FROM {src} WINDOW w AS (ORDER BY {order})
    )
) ORDER BY {order}
"""


def _continuous(
    refs: npt.NDArray[np.uint32], ts: npt.NDArray[np.int64], out: npt.NDArray[np.int64] | None = None
) -> npt.NDArray[np.int64]:
    """``ts_u`` for rows sorted by (ref, ts): the running sum of the steps, the typical step at a boundary.

    Allocates one array of the input's size unless ``out`` (int64, the same length) is given: fresh pages
    are the dominant cost at checkpoint size.
    """
    u = np.empty_like(ts) if out is None else out
    if len(ts) == 0:
        return u
    u[0] = 0
    steps = u[1:]
    np.subtract(ts[1:], ts[:-1], out=steps)
    boundary = refs[1:] != refs[:-1]
    # any value is exact (ts_shift absorbs it); the typical step keeps the deltas narrow. A sample suffices.
    k = max(1, len(steps) // 4096)
    inside = steps[::k][~boundary[::k]]
    steps[boundary] = int(np.median(inside)) if len(inside) else 0
    np.cumsum(u, out=u)
    return u


def _block_order(chunk: Chunk) -> tuple[list[int], npt.NDArray[np.intp]]:
    """The order of a chunk's rows by (time block, ref, ts) and the row index where each block starts (plus
    the end). The newest block reaches back over the block before it (2-4 h): the last hours, which most
    queries read, stay one sorted run whichever side of a block edge the chunk ends. A chunk within that
    (every usual checkpoint) is sorted by two keys, as before blocks."""
    if not len(chunk):
        return [0], np.empty(0, np.intp)
    newest = int(chunk.ts.max()) // _BLOCK_MS - 1
    if int(chunk.ts.min()) // _BLOCK_MS >= newest:
        return [0, len(chunk)], np.lexsort((chunk.ts, chunk.refs))
    blocks = np.minimum(chunk.ts // _BLOCK_MS, newest)
    order = np.lexsort((chunk.ts, chunk.refs, blocks))
    blocks = blocks[order]
    return [0, *(np.flatnonzero(blocks[1:] != blocks[:-1]) + 1).tolist(), len(chunk)], order


def _checkpoint_rows(chunk: Chunk) -> tuple[dict[str, npt.NDArray[np.generic]], list[tuple[int, int]]]:
    """A chunk's rows as samples columns sorted by (time block, ref, ts), with ``blk`` (the block's index
    in this chunk, 0, 1, ...; only when there are several) and ``nb`` (only when a value is NaN), and each
    block's (min_ts, max_ts).

    A checkpoint holds one time block (the newest two, see :func:`_block_order`): a chunk that spans more
    (a WAL replay, a backfill) becomes several checkpoints, so a query prunes the others by ``seq``
    (``spans``) instead of computing the timestamp of every row of a checkpoint that holds a day to keep
    its last hour."""
    cuts, order = _block_order(chunk)
    values = chunk.values[order]
    refs = chunk.refs[order]
    ts = chunk.ts[order].astype(np.int64, copy=False)
    starts = np.array(cuts[:-1], dtype=np.intp)
    spans = (
        list(
            zip(
                np.minimum.reduceat(ts, starts).tolist(),
                np.maximum.reduceat(ts, starts).tolist(),
                strict=True,
            )
        )
        if len(ts)
        else []
    )
    # the permutation is spent once the columns are gathered: ts_u goes into its buffer (intp is int64 on
    # 64-bit platforms), one array of fresh pages less per fold (the server's fold thread spent about a
    # third of its CPU zeroing fresh pages, perf, issue 18 stop 33)
    reuse = order.dtype == np.int64 and order.flags.writeable and order.base is None
    ts_u = _continuous(refs, ts, out=order.view(np.int64) if reuse else None)
    del order
    batch: dict[str, npt.NDArray[np.generic]] = {
        "ref": refs,
        "ts_u": ts_u,
        "ts_shift": np.subtract(ts, ts_u, out=ts),  # ts is this function's copy
        "v": values,
    }
    # ``nb`` and ``blk`` are constant in the usual fold (no NaN, one time block): left out then, the insert
    # writes the constant instead (:func:`_insert_sql`), no column allocated, converted or scanned
    nan = np.isnan(values)
    if nan.any():
        batch["nb"] = np.where(nan, values.view(np.uint64), np.uint64(0))
    if len(spans) > 1:
        batch["blk"] = np.repeat(np.arange(len(spans), dtype=np.uint32), np.diff(cuts))
    return batch, spans


def _insert_sql(batch: dict[str, npt.NDArray[np.generic]]) -> str:
    """The insert of a :func:`_checkpoint_rows` batch: ``nb`` 0 and ``blk`` 0 where the batch has no
    such column (every value not NaN, one time block)."""
    nb = "nb" if "nb" in batch else "0"
    blk = "blk" if "blk" in batch else "0"
    return f"INSERT INTO samples SELECT ref, ts_u, ts_shift, v, {nb}, ? + {blk} FROM batch"  # noqa: S608


def _sorted(ref: npt.NDArray[np.uint32], ts: npt.NDArray[np.int64], seq: npt.NDArray[np.uint32]) -> bool:
    """Whether rows are in (ref, ts, seq) order."""
    r0, r1, t0, t1 = ref[:-1], ref[1:], ts[:-1], ts[1:]
    if bool((r1 >= r0).all()) and bool(((r1 > r0) | (t1 > t0)).all()):
        return True  # the usual case, strictly by (ref, ts): two passes instead of the full test below
    same_ref = r1 == r0
    ok = (r1 > r0) | (same_ref & (t1 > t0)) | (same_ref & (t1 == t0) & (seq[1:] >= seq[:-1]))
    return bool(ok.all())


def _sort_columns(cols: dict[str, npt.NDArray[np.generic]]) -> None:
    """Sorts the rows of ``cols`` (``ref``, ``ts``, ``seq`` and any others) by (ref, ts, seq), in place of
    the dict's columns, each replaced by its sorted copy in turn so that the unsorted one is freed then (the
    dict must hold the only reference): a long range's slice of ~1M rows held every column twice over.

    Rows arrive in storage order: checkpoint by checkpoint (``seq``), each sorted by (ref, ts). When the
    checkpoints follow one another in time (one per time block, or folds of data in order), a stable sort
    by ``ref`` alone is the answer: a merge of sorted runs (timsort), about half the cost of the full
    three-key sort that overlapping checkpoints still need."""

    def in_order() -> bool:
        return _sorted(cols["ref"], cols["ts"], cols["seq"])  # type: ignore[arg-type]

    def apply(perm: npt.NDArray[np.intp]) -> None:
        for name in cols:
            cols[name] = cols[name][perm]

    if in_order():
        return
    apply(np.argsort(cols["ref"], kind="stable"))
    if not in_order():  # lexsort is stable too: rows equal in all three keep their storage order
        apply(np.lexsort((cols["seq"], cols["ts"], cols["ref"])))


class Database:
    def __init__(self, path: Path) -> None:
        self._write_lock = threading.Lock()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._con = duckdb.connect(str(path))
            path.chmod(0o600)
            self._con.execute(_SCHEMA)
            self._migrate()
            self._spans = self._read_spans(self._con)
        except (duckdb.Error, OSError) as e:
            raise DatabaseError(f"cannot open {path}: {e}") from e

    @staticmethod
    def _read_spans(cur: duckdb.DuckDBPyConnection) -> Spans:
        """The ``spans`` table as :class:`Spans` (called under the write lock after every change)."""
        return Spans.of(cur.execute("SELECT seq, min_ts, max_ts FROM spans").fetchnumpy())

    def _migrate(self) -> None:
        """Rewrite a database with the earlier ``samples(ref, ts, v, nb, seq)`` layout, in one transaction."""
        old = self._con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'samples' AND column_name = 'ts'"
        ).fetchall()[0][0]
        if not old:
            return
        cur = self._con
        cur.begin()
        try:
            cur.execute("ALTER TABLE samples RENAME TO samples_old")
            cur.execute(_SCHEMA)
            cur.execute(
                "INSERT INTO samples " + _AS_SAMPLES.format(src="samples_old", order="seq, ref, ts"), [0]
            )
            cur.execute(
                "INSERT INTO spans SELECT seq, min(ts), max(ts) FROM samples_old GROUP BY seq "
                "ON CONFLICT DO NOTHING"
            )
            cur.execute("DROP TABLE samples_old")
            cur.commit()
        except BaseException:
            cur.rollback()
            raise

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
        """Insert new series and a chunk's samples in one transaction, one checkpoint per time block.

        ``chunk`` is let go of once sorted into the batch: a caller that passes its only reference (the
        store's concatenation of the head) no longer holds it through DuckDB's insert."""
        batch, spans = _checkpoint_rows(chunk)
        n_rows = len(chunk)
        del chunk
        _malloc.trim()  # the concatenation, freed: DuckDB's threads allocate from their own arenas, not it
        n_seq = max(1, len(spans))
        new_series = {
            "ref": np.array([r for r, _ in series], dtype=np.uint32),
            "labels": np.array([labels_json(lbl) for _, lbl in series], dtype=object),
        }
        with self._write_lock, self._cursor("checkpoint") as cur:
            cur.begin()
            try:
                last = int(
                    cur.execute(
                        "UPDATE meta SET value = value + ? WHERE key = 'seq' RETURNING value", [n_seq]
                    ).fetchall()[0][0]
                )
                first_seq = last - n_seq + 1
                if series:
                    cur.register("new_series", new_series)
                    cur.execute(
                        "INSERT INTO series SELECT ref, labels FROM new_series ON CONFLICT DO NOTHING"
                    )
                if n_rows:
                    cur.register("batch", batch)
                    cur.execute(_insert_sql(batch), [first_seq])
                    cur.executemany(
                        "INSERT INTO spans VALUES (?, ?, ?)",
                        [[first_seq + k, lo, hi] for k, (lo, hi) in enumerate(spans)],
                    )
                cur.commit()
            except BaseException:
                cur.rollback()
                raise
            self._spans = self._read_spans(cur)

    def query(
        self,
        refs: npt.NDArray[np.uint32] | None,
        start_ms: int,
        end_ms: int,
        *,
        ref_range: tuple[int, int] | None = None,
    ) -> Rows:
        """Rows in ``[start_ms, end_ms]`` for ``refs`` (all refs when None) and, when given, refs in
        ``ref_range`` (inclusive; rows are stored sorted by ref within a checkpoint, so DuckDB's zone maps
        skip the row groups outside it), ordered by (ref, ts, seq).

        The ``nb`` column (NaN bit patterns) is read only when a row in range holds a NaN: counting those
        first costs ~1 ms (``nb`` is 0 almost everywhere, so its zone maps skip nearly every row group),
        reading ``nb`` for every row a quarter of the whole read. Both reads see one snapshot. A select of
        at most ``_SMALL_SELECT`` refs (``refs``, or a ``ref_range`` that narrow, as one series' select is)
        reads ``nb`` at once instead, without the transaction (as before the count existed: folded rows keep
        their ``seq``, so a fold between its two reads loses nothing): for a handful of series the count and
        its transaction cost more than the column (~0.5 ms of CPU per dashboard or probe query).

        The checkpoints to read come from the in-memory :class:`Spans`; a window that none of them overlaps
        (recent samples, still in memory) returns no rows without a DuckDB query."""
        seqs = self._spans.overlapping(start_ms, end_ms)
        if seqs is None:  # no checkpoint holds a sample of the window: nothing to ask DuckDB
            return _no_rows()
        where = f"FROM samples WHERE seq BETWEEN ? AND ? AND {_TS} BETWEEN ? AND ?"
        params: list[int] = [*seqs, start_ms, end_ms]
        if ref_range is not None:
            where += " AND ref BETWEEN ? AND ?"
            params += ref_range
        small = (refs is not None and len(refs) <= _SMALL_SELECT) or (
            ref_range is not None and ref_range[1] - ref_range[0] < _SMALL_SELECT
        )
        with self._cursor("select") as cur:
            if not small:
                cur.begin()  # one snapshot for the reads below (the transaction only reads: rolled back)
            try:
                if refs is not None:
                    name = f"qrefs_{next(_names)}"
                    cur.register(name, {"ref": refs})
                    where += f" AND ref IN (SELECT ref FROM {name})"  # noqa: S608 -- generated identifier
                nans = small or cur.execute(f"SELECT count(*) {where} AND nb <> 0", params).fetchall()[0][0]
                nb_col = ", nb" if nans else ""
                sql = f"SELECT ref, {_TS} AS ts, coalesce(v, 0.0) AS v, seq{nb_col} {where}"
                res = cur.execute(sql, params).fetchnumpy()
            finally:
                if not small:
                    cur.rollback()
        cols: dict[str, npt.NDArray[np.generic]] = {
            "ref": np.asarray(res.pop("ref"), dtype=np.uint32),
            "ts": np.asarray(res.pop("ts"), dtype=np.int64),
            "seq": np.asarray(res.pop("seq"), dtype=np.uint32),  # it only orders rows: not widened
            "v": np.asarray(res.pop("v"), dtype=np.float64),
        }
        if nans:
            cols["nb"] = np.asarray(res.pop("nb"), dtype=np.uint64)
        del res
        # Sorted here rather than by DuckDB: ``ts`` is computed, so DuckDB sorts it without statistics (~3x
        # slower than numpy); rows usually arrive in storage order, already sorted, which is checked first.
        _sort_columns(cols)
        ref = cast(npt.NDArray[np.uint32], cols.pop("ref"))
        ts = cast(npt.NDArray[np.int64], cols.pop("ts"))
        seq = cast(npt.NDArray[np.uint32], cols.pop("seq"))
        v = cast(npt.NDArray[np.float64], cols.pop("v"))
        nb = cols.pop("nb", None)
        if nb is not None:
            nan = nb != 0
            v = v.copy()
            v[nan] = nb[nan].view(np.float64)
        return ref, ts, v, seq

    def delete_before(self, cutoff_ms: int) -> int:
        with self._write_lock, self._cursor("retention") as cur:
            row = cur.execute(f"DELETE FROM samples WHERE {_TS} < ? RETURNING 1", [cutoff_ms]).fetchall()  # noqa: S608
            cur.execute("DELETE FROM spans WHERE max_ts < ?", [cutoff_ms])
            self._spans = self._read_spans(cur)
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
                        f"SELECT count(*) FROM samples WHERE {_TS} >= ? AND {_TS} < ?",  # noqa: S608
                        [lo, cutoff_ms],
                    ).fetchall()[0][0]
                )
                cur.execute(
                    f"CREATE TEMP TABLE ds AS SELECT ref, {_TS} AS ts, v, nb, seq FROM samples "  # noqa: S608
                    f"WHERE {_TS} >= ? AND {_TS} < ? "
                    "QUALIFY row_number() OVER (PARTITION BY ref, ts // ? ORDER BY ts DESC, seq DESC) = 1",
                    [lo, cutoff_ms, resolution_ms],
                )
                after = int(cur.execute("SELECT count(*) FROM ds").fetchall()[0][0])
                cur.execute(f"DELETE FROM samples WHERE {_TS} >= ? AND {_TS} < ?", [lo, cutoff_ms])  # noqa: S608
                cur.execute(
                    "INSERT INTO samples " + _AS_SAMPLES.format(src="ds", order="ref, ts, seq"),
                    [resolution_ms],
                )
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
