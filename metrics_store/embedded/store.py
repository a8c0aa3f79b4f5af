"""The embedded metrics store: DuckDB for history, a write-ahead log + in-memory head for recent samples.

Write path: ``append`` validates the refs, writes one WAL record (new series records first) with a single
``os.writev`` from the arrays and keeps the arrays in the head (a batch's one shared timestamp once, not per
sample, in both); it costs a few ns per sample plus one syscall per batch.
A background thread folds the head into DuckDB every ``checkpoint_interval_s`` (or when the head holds
``checkpoint_samples``), then deletes the folded WAL segments. Opening replays the WAL and folds it.

Read path: ``select`` matches labels on the in-memory index, reads DuckDB and filters the head snapshot,
merges both (duplicate ``(ref, ts)``: the last write wins) and splits by series. ``select_slices`` gives
the same series in slices of consecutive refs, each read from DuckDB on its own (one snapshot of the index
and the head for all), so the PromQL engine never holds all rows of a long range.

Maintenance (``run_maintenance``, background every ``maintenance_interval_s``): deletes samples older than
``retention_s`` and downsamples raw samples older than ``downsample_after_s``: within each
``downsample_resolution_s`` bucket (aligned to the Unix epoch) only the **last sample** per series is kept,
with its original timestamp and value (staleness markers included). So a query over a downsampled range
returns at most one sample per series per bucket; gauges read as "value at the end of the bucket", counters
stay monotonic (``rate``/``increase`` over spans longer than a bucket stay correct except for resets inside
a bucket, which are lost). Samples that arrive later than the downsampling watermark stay raw.

Thread safety: every public method may be called from any thread. ``append``/``series_ref`` serialise on one
short lock; queries hold it only to snapshot the index and head; DuckDB reads run in parallel.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import prometheus_client
from prometheus_client import CollectorRegistry

from metrics_store._metrics import StoreMetrics
from metrics_store.base import FloatColumn, IntColumn
from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded import _malloc
from metrics_store.embedded._db import Database
from metrics_store.embedded._head import Chunk, Head, concat, shared_ts
from metrics_store.embedded._index import LabelIndex
from metrics_store.embedded._merge import merge_rows, split_series
from metrics_store.embedded._scheduler import Scheduler
from metrics_store.embedded._wal import WalWriter, encode_samples, encode_series, replay
from metrics_store.errors import InvalidSampleError, StoreClosedError, StoreError, UnknownSeriesError
from metrics_store.model import Labels, Matcher, SeriesData

__all__ = ["EmbeddedStore"]

log = logging.getLogger("metrics_store.embedded")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_Frozen = tuple[list[Chunk], list[tuple[int, Labels]]]
_Columns = tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64], npt.NDArray[np.float64]]

# select_slices: rows read per slice (~28 bytes each as DuckDB returns them, again as numpy arrays), the
# fewest series a slice holds, and the sample interval assumed for the first slice's size. 512 k rows, not
# 1 M: a slice's read, sort and window bounds are the transient part of a long range's peak (24 h `sum by
# (code) (rate(...))` over 1k series: traced peak 104 -> 81 MB, RSS ~30 MB lower) at ~10 % more CPU for
# such reads and none for 1 h reads of 10k series (bench/README.md, 2026-12-07).
_SLICE_ROWS = 1 << 19
_MIN_SLICE_SERIES = 64
_GUESS_INTERVAL_MS = 15_000


@dataclass(frozen=True, slots=True)
class _Snapshot:
    refs: npt.NDArray[np.uint32]  # selected, ascending
    n_series: int  # refs known at the snapshot
    mem: _Columns  # in-memory rows of those refs in range, append order


def _clamp(start_ms: int, end_ms: int) -> tuple[int, int]:
    """Stored timestamps are int64: wider bounds (the API passes on any number it parses) mean the same."""
    return min(max(start_ms, _INT64_MIN), _INT64_MAX), min(max(end_ms, _INT64_MIN), _INT64_MAX)


def _slice_size(per_series: float) -> int:
    return max(_MIN_SLICE_SERIES, int(_SLICE_ROWS // per_series))


class EmbeddedStore:
    """DuckDB + WAL store in directory ``path`` (``metrics.duckdb`` and ``wal/``).

    ``clock`` (Unix seconds) drives retention, downsampling and the fsync 'batch' period; ``background=False``
    runs no thread (call :meth:`checkpoint` and :meth:`run_maintenance` yourself)."""

    def __init__(
        self,
        path: Path,
        config: EmbeddedStoreConfig | None = None,
        *,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
        clock: Callable[[], float] = time.time,
        background: bool = True,
    ) -> None:
        self._cfg = config or EmbeddedStoreConfig()
        self._clock = clock
        self._metrics = StoreMetrics(registry, "embedded")
        self._lock = threading.Lock()
        self._ckpt_lock = threading.Lock()
        self._closed = False
        self._index = LabelIndex()
        self._head = Head()
        self._frozen: list[_Frozen] = []
        self._unfolded: list[tuple[int, Labels]] = []  # series not in DuckDB yet
        self._unlogged: list[tuple[int, Labels]] = []  # series not in the WAL yet (written with next append)
        self._db = Database(path / "metrics.duckdb")
        for ref, labels in self._db.load_series():
            self._index.add(ref, labels)
        self._replay(path / "wal")
        self._wal = WalWriter(path / "wal", self._cfg.fsync, self._cfg.fsync_interval_s, clock)
        if self._head.samples or self._unfolded:
            self.checkpoint()
        self._scheduler: Scheduler | None = None
        if background:
            self._scheduler = Scheduler(
                [
                    ("checkpoint", self._cfg.checkpoint_interval_s, self.checkpoint),
                    ("maintenance", self._cfg.maintenance_interval_s, self.run_maintenance),
                ],
                thread_name=f"store-maintenance:{path.name}",
            )
            self._scheduler.start()

    def _replay(self, wal_dir: Path) -> None:
        if not wal_dir.exists():
            return
        samples = 0
        for rec in replay(wal_dir, lambda reason: self._metrics.error("wal_torn")):
            if rec.series is not None:
                for ref, labels in rec.series:
                    if not self._index.known(ref):
                        self._unfolded.append((ref, self._index.add(ref, labels)))
            elif rec.refs is not None and rec.ts is not None and rec.values is not None:
                known = rec.refs < self._index.next_ref
                if not known.all():
                    log.error("wal: %d samples of unknown series skipped", int((~known).sum()))
                    self._metrics.error("wal_unknown_series")
                self._head.append(Chunk(rec.refs[known], shared_ts(rec.ts[known]), rec.values[known]))
                samples += int(known.sum())
        log.info("wal: replayed %d samples and %d new series from %s", samples, len(self._unfolded), wal_dir)

    # --- Appender -----------------------------------------------------------------------------------------

    def series_ref(self, labels: Labels) -> int:
        with self._lock:
            ref = self._index.get(labels)
            if ref is None:
                if self._closed:
                    raise StoreClosedError("store is closed")
                ref = self._index.next_ref
                labels = self._index.add(ref, labels)
                self._unlogged.append((ref, labels))
                self._unfolded.append((ref, labels))
                self._metrics.series_created.inc()
            return ref

    def append(self, refs: IntColumn, timestamps_ms: IntColumn, values: FloatColumn) -> None:
        try:
            r = np.array(refs, dtype=np.int64)
            t = np.array(timestamps_ms, dtype=np.int64)
            v = np.array(values, dtype=np.float64)
        except (TypeError, ValueError, OverflowError) as e:
            raise InvalidSampleError(f"append: cannot convert samples: {e}") from e
        n = len(r)
        if len(t) != n or len(v) != n or r.ndim != 1:
            raise InvalidSampleError(
                f"append: refs/timestamps/values lengths differ ({n}, {len(t)}, {len(v)})"
            )
        if n == 0:
            return
        # Validation and encoding need no lock (refs only grow: one below next_ref now stays valid), so the
        # scrape threads serialise only on the WAL write and the head append.
        next_ref = self._index.next_ref
        if r.min() < 0 or r.max() >= next_ref:
            bad = r[(r < 0) | (r >= next_ref)][0]
            raise UnknownSeriesError(f"append: unknown series ref {bad}")
        r32 = r.astype(np.uint32)
        head_chunk = Chunk(r32, shared_ts(t), v)
        data = encode_samples(r32, head_chunk.ts, v)  # a shared timestamp is written once
        with self._lock:
            if self._closed:
                raise StoreClosedError("store is closed")
            if self._unlogged:
                data = [encode_series(self._unlogged), *data]
            try:
                self._wal.write(data)
            except StoreError:
                self._metrics.error("wal_write")
                raise
            self._unlogged.clear()
            self._head.append(head_chunk)
            head_samples = self._head.samples
            self._metrics.wal_segment_bytes.set(self._wal.size)
        self._metrics.samples_appended.inc(n)
        self._metrics.wal_bytes.inc(sum(len(p) for p in data))
        self._metrics.head_samples.set(head_samples)
        if head_samples >= self._cfg.checkpoint_samples and self._scheduler is not None:
            self._scheduler.wake("checkpoint")

    # --- Querier ------------------------------------------------------------------------------------------

    def _snapshot(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> _Snapshot:
        """The refs ``matchers`` select (sorted) and the in-memory rows of those refs in range (append
        order): what every read of one select shares."""
        with self._lock:
            if self._closed:
                raise StoreClosedError("store is closed")
            refs = self._index.match(matchers)
            frozen = [c for chunks, _ in self._frozen for c in chunks]
            head, active = self._head, self._head.snapshot()
            n_series = self._index.next_ref
        if not len(refs):
            return _Snapshot(refs, n_series, (refs, np.empty(0, np.int64), np.empty(0, np.float64)))
        wanted = np.zeros(n_series, dtype=np.bool_)
        wanted[refs] = True
        merged = concat(active)
        if len(active) > 1:
            with self._lock:
                head.compact(active, merged)
        mem = concat([*frozen, merged])
        mask = (mem.ts >= start_ms) & (mem.ts <= end_ms)
        mask &= wanted[mem.refs]
        return _Snapshot(refs, n_series, (mem.refs[mask], mem.ts[mask], mem.values[mask]))

    def _read(self, snap: _Snapshot, part: slice, start_ms: int, end_ms: int, universe: int) -> _Columns:
        """Rows of the refs ``snap.refs[part]`` (consecutive among the selected ones) in range, merged with
        the in-memory rows and sorted by (ref, ts). ``universe``: how many refs the rows of
        ``[first, last]`` are read among (all known refs for a whole select, as before slices; the range's
        width for a slice); refs sparser than half of it are filtered by DuckDB (a semi-join), denser ones
        after the read."""
        refs = snap.refs[part]
        first, last = int(refs[0]), int(refs[-1])
        # every ref in [first, last] wanted: the range (pruned by DuckDB's zone maps) is the whole filter
        contiguous = last - first + 1 == len(refs)
        selective = not contiguous and len(refs) * 2 < universe
        try:
            db = self._db.query(refs if selective else None, start_ms, end_ms, ref_range=(first, last))
        except StoreError:
            self._metrics.error("query")
            raise
        if not selective and not contiguous:
            wanted = np.zeros(last - first + 1, dtype=np.bool_)
            wanted[refs - first] = True
            keep = wanted[db[0] - first]
            db = (db[0][keep], db[1][keep], db[2][keep], db[3][keep])
        mem_refs, mem_ts, mem_values = snap.mem
        if part != slice(None) and len(mem_refs):
            inside = (mem_refs >= first) & (mem_refs <= last)  # the selected refs of [first, last]: part's
            mem_refs, mem_ts, mem_values = mem_refs[inside], mem_ts[inside], mem_values[inside]
        return merge_rows(db, (mem_refs, mem_ts, mem_values))

    def _rows(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> _Columns:
        start_ms, end_ms = _clamp(start_ms, end_ms)
        snap = self._snapshot(matchers, start_ms, end_ms)
        if not len(snap.refs):
            return snap.mem
        return self._read(snap, slice(None), start_ms, end_ms, snap.n_series)

    def select_slices(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> Iterator[list[SeriesData]]:
        """:meth:`select`'s series in slices of consecutive refs (ref order within and across slices, not
        label order), each read on its own, so that a long range is never all resident: about
        ``_SLICE_ROWS`` rows a slice (sized first by a 15 s scrape interval, then by the rows per series
        read so far). A read that small is one slice, as ``select`` reads it. The in-memory rows are those
        of one snapshot, taken first."""
        start_ms, end_ms = _clamp(start_ms, end_ms)
        t0 = time.perf_counter()
        snap = self._snapshot(matchers, start_ms, end_ms)
        n = len(snap.refs)
        per_series = max(1.0, (end_ms - start_ms) / _GUESS_INTERVAL_MS)
        done = rows = 0
        if n and n * per_series <= _SLICE_ROWS:  # one slice: read as select reads it
            yield split_series(
                *self._read(snap, slice(None), start_ms, end_ms, snap.n_series), self._index.labels_of
            )
            done = n
        while done < n:
            part = slice(done, min(n, done + _slice_size(per_series)))
            span = int(snap.refs[part.stop - 1]) - int(snap.refs[part.start]) + 1
            refs, ts, values = self._read(snap, part, start_ms, end_ms, span)
            done, rows = part.stop, rows + len(refs)
            per_series = max(1.0, rows / done)
            yield split_series(refs, ts, values, self._index.labels_of)
            del refs, ts, values
        self._metrics.query_duration.labels("embedded", "select").observe(time.perf_counter() - t0)

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        t0 = time.perf_counter()
        refs, ts, values = self._rows(matchers, start_ms, end_ms)
        out = split_series(refs, ts, values, self._index.labels_of)
        self._metrics.query_duration.labels("embedded", "select").observe(time.perf_counter() - t0)
        return out

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        t0 = time.perf_counter()
        refs, _, _ = self._rows(matchers, start_ms, end_ms)
        out = [self._index.labels_of(int(r)) for r in np.unique(refs)]
        self._metrics.query_duration.labels("embedded", "series").observe(time.perf_counter() - t0)
        return out

    # --- Lifecycle and maintenance ----------------------------------------------------------------------

    def checkpoint(self) -> bool:
        """Fold the head into DuckDB and delete the folded WAL segments; False when there was nothing."""
        with self._ckpt_lock:
            t0 = time.perf_counter()
            with self._lock:
                if self._head.samples or self._unfolded:
                    self._frozen.append((self._head.chunks, self._unfolded))
                    self._head, self._unfolded = Head(), []
                if not self._frozen:
                    return False
                todo = list(self._frozen)
                segment = self._wal.rotate()
            # the concatenation is referenced by the fold alone, which lets it go once sorted (peak memory)
            n_samples = sum(len(c) for chunks, _ in todo for c in chunks)
            series = [s for _, ss in todo for s in ss]
            try:
                self._db.fold(concat([c for chunks, _ in todo for c in chunks]), series)
            except StoreError:
                self._metrics.error("checkpoint")
                del todo
                _malloc.trim()  # what the failed fold freed (the head stays frozen for the next try)
                raise
            with self._lock:
                del self._frozen[: len(todo)]
                self._wal.remove_up_to(segment)
                self._metrics.wal_segment_bytes.set(self._wal.size)
                self._metrics.head_samples.set(self._head.samples)
            del (
                todo
            )  # the head's chunks: freed before the trim, or they stay in the process until the next fold
            _malloc.trim()  # the fold's columns and the head, freed: back to the system
            elapsed = time.perf_counter() - t0
            self._metrics.checkpoints.inc()
            self._metrics.checkpoint_duration.observe(elapsed)
            log.debug("checkpoint: folded %d samples, %d series in %.3fs", n_samples, len(series), elapsed)
            return True

    def run_maintenance(self) -> tuple[int, int]:
        """Apply retention and downsampling at ``clock()``; returns (samples deleted, samples downsampled)."""
        now_ms = int(self._clock() * 1000)
        m = self._metrics
        try:
            deleted = self._db.delete_before(now_ms - self._cfg.retention_s * 1000)
            m.maintenance_runs.labels("embedded", "retention").inc()
            m.samples_removed.labels("embedded", "retention").inc(deleted)
            reduced = 0
            if self._cfg.downsample_after_s is not None:
                res_ms = self._cfg.downsample_resolution_s * 1000
                cutoff = (now_ms - self._cfg.downsample_after_s * 1000) // res_ms * res_ms
                reduced = self._db.downsample(cutoff, res_ms)
                m.maintenance_runs.labels("embedded", "downsample").inc()
                m.samples_removed.labels("embedded", "downsample").inc(reduced)
            if deleted or reduced:
                self._db.compact_storage()
        except StoreError:
            m.error("maintenance")
            raise
        log.info("maintenance: retention deleted %d samples, downsampling removed %d", deleted, reduced)
        return deleted, reduced

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
        if self._scheduler is not None:
            self._scheduler.stop()
        try:
            self.checkpoint()
        except StoreError:
            log.exception("close: final checkpoint failed; the WAL keeps the samples for the next open")
        with self._lock:
            self._closed = True
            self._wal.close()
        self._db.close()
