"""The latest samples in memory, columnar per metric name, for rule evaluation on the newest data.

``RecentWindow`` keeps the last ``retention_ms`` of every series it is fed as numpy columns per metric name
and answers as a Querier. :meth:`RecentWindow.select_packed` returns all samples of a selector as sorted
columns without any per-series Python work, which is what the rule fast path consumes.

The window is a subscriber of committed samples: :class:`WindowTee` is an Appender that writes a batch to the
store and, once the store accepted it, hands the same batch to the window (a failed store append never reaches
the window). In the server, ``paramedic.alerting.AlertingService.appender`` is that tee and
``paramedic/assembly.py`` gives it to every metric source (the scrape manager, the platform's sources such as
Cloud Foundry's Log Cache poller) and the rule manager writes recording rules and ``ALERTS`` through it; the
log pipeline's pattern counts go to the store only (queries for them take the store path below).

``WindowedQuerier`` answers from the window when it covers the requested range and the selector's metric name
was fed to the window, and from the store otherwise (ranges reaching before the window's start or retention,
nameless selectors, names only the store has), so results are those of the store.

Store semantics kept: samples are returned sorted by time whatever order they were appended in; for a
duplicate ``(series, timestamp)`` the last write wins; staleness markers are kept bit-exact.

Memory: samples older than ``newest - retention`` are dropped when a name is compacted (on query, every 64
appends of the name, and at least every ``retention / 4`` of sample time by a sweep); a series without
samples in the retention is removed from its name's columns and label lists (it comes back if appended
again). What stays per series ever fed is its slot in the ref table (labels tuple shared with the store's
index, two integers).

Thread safety: one lock; ``append`` from many threads, queries from others.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from metrics_store.base import Appender, FloatColumn, IntColumn, Querier
from metrics_store.model import METRIC_NAME, Labels, Matcher, MatchOp, SeriesData

__all__ = ["FanOut", "Packed", "RecentWindow", "WindowTee", "WindowedQuerier"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
_TS_BITS = 40  # merge key: (local series index << 40) | (ts - horizon); 2**40 ms is 34 years
_MAX_PENDING = 64


@dataclass(slots=True)
class Packed:
    """Samples of several series as columns sorted by (series, time); ``sid`` indexes ``labels``."""

    labels: list[Labels]
    sid: I64
    ts: I64
    vals: F64
    nameless: list[Labels] = field(default_factory=list)  # labels without __name__, same order
    local: I64 | None = None  # window-local index of each packed series
    source: object = None  # the window's per-name entry (for per-name caches)


def _empty() -> tuple[I64, I64, F64]:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)


@dataclass(slots=True)
class _Name:
    """One metric name. ``labels[i]``/``refs[i]`` describe local series ``i``; ``merged`` is sorted by
    (local, ts) without duplicates; ``pending`` are appended chunks not merged yet (append order).
    A new object replaces it when series are dropped (per-name caches compare identity and size)."""

    labels: list[Labels] = field(default_factory=list)
    nameless: list[Labels] = field(default_factory=list)
    refs: list[int] = field(default_factory=list)
    merged: tuple[I64, I64, F64] = field(default_factory=_empty)
    pending: list[tuple[I64, I64, F64]] = field(default_factory=list)
    masks: dict[tuple[Matcher, ...], tuple[int, npt.NDArray[np.bool_]]] = field(default_factory=dict)
    compacted_ms: int = 0  # the sample time ("newest") of the last compaction


class RecentWindow:
    """``started_ms``: from when the window sees every sample written (the server: its start time); None:
    the oldest timestamp of the first append (tests and benchmarks feeding history)."""

    def __init__(self, retention_ms: int = 15 * 60_000, *, started_ms: int | None = None) -> None:
        self.retention_ms = retention_ms
        self._lock = threading.Lock()
        self._refs: dict[Labels, int] = {}
        self._names: list[_Name] = []
        self._name_ids: dict[str, int] = {}
        self._ref_labels: list[Labels] = []
        # per ref (the first len(_ref_labels) rows; capacity doubles): its name id, its local index in
        # that name (-1: dropped from its name, no samples in the retention). Updated in place, so
        # appending after new series were added costs nothing per series already known.
        self._ref_name = np.zeros(1024, dtype=np.int64)
        self._ref_local = np.full(1024, -1, dtype=np.int64)
        self.started_ms = started_ms
        self.newest_ms = 0
        self._next_sweep_ms = 0

    # -- feeding -----------------------------------------------------------------------------------------

    def series_ref(self, labels: Labels) -> int:
        with self._lock:
            ref = self._refs.get(labels)
            if ref is None:
                ref = self._refs[labels] = len(self._ref_labels)
                name = next((v for k, v in labels if k == METRIC_NAME), "")
                nid = self._name_ids.setdefault(name, len(self._names))
                if nid == len(self._names):
                    self._names.append(_Name())
                if ref == len(self._ref_name):
                    self._ref_name = np.concatenate([self._ref_name, np.zeros(ref, dtype=np.int64)])
                    self._ref_local = np.concatenate([self._ref_local, np.full(ref, -1, dtype=np.int64)])
                self._ref_labels.append(labels)
                self._ref_name[ref] = nid
                self._add_local(ref)
            return ref

    def _add_local(self, ref: int) -> None:
        entry = self._names[int(self._ref_name[ref])]
        labels = self._ref_labels[ref]
        self._ref_local[ref] = len(entry.labels)
        entry.labels.append(labels)
        entry.nameless.append(tuple([p for p in labels if p[0] != METRIC_NAME]))
        entry.refs.append(ref)

    def append(self, refs: Sequence[int] | I64, timestamps_ms: IntColumn, values: FloatColumn) -> None:
        if not len(refs):
            return
        r = np.asarray(refs, dtype=np.int64)
        t = np.asarray(timestamps_ms, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        with self._lock:
            local = self._ref_local[r]
            if (local < 0).any():  # series dropped earlier and fed again
                for ref in np.unique(r[local < 0]).tolist():
                    if self._ref_local[ref] < 0:
                        self._add_local(ref)
                local = self._ref_local[r]
            if self.started_ms is None:
                self.started_ms = int(t.min())
            self.newest_ms = max(self.newest_ms, int(t.max()))
            nids = self._ref_name[r]
            if len(nids) > 1 and (nids[1:] != nids[:-1]).any():
                order = np.argsort(nids, kind="stable")
                nids, local, t, v = nids[order], local[order], t[order], v[order]
                cuts = (np.flatnonzero(nids[1:] != nids[:-1]) + 1).tolist()
            else:
                cuts = []
            for lo, hi in zip([0, *cuts], [*cuts, len(nids)], strict=True):
                entry = self._names[int(nids[lo])]
                entry.pending.append((local[lo:hi], t[lo:hi], v[lo:hi]))
                if len(entry.pending) > _MAX_PENDING:
                    self._compact(int(nids[lo]))
            if self.newest_ms >= self._next_sweep_ms:
                self._sweep()

    def _sweep(self) -> None:
        """Compact names not compacted for a quarter of the retention (names nobody queries or appends)."""
        quarter = self.retention_ms // 4
        for nid, entry in enumerate(self._names):
            if entry.compacted_ms < self.newest_ms - quarter and (entry.pending or len(entry.merged[0])):
                self._compact(nid)
        self._next_sweep_ms = self.newest_ms + quarter

    def _compact(self, nid: int) -> tuple[_Name, I64, I64, F64]:
        """Merge pending chunks into the sorted columns (linear: pending chunks are sorted and inserted),
        drop samples older than the retention and series left without samples. Lock held."""
        entry = self._names[nid]
        horizon = self.newest_ms - self.retention_ms
        sid, ts, vals = entry.merged
        keep = ts >= horizon
        if not entry.pending and keep.all():
            return entry, sid, ts, vals
        if not keep.all():
            sid, ts, vals = sid[keep], ts[keep], vals[keep]
        if entry.pending:
            ns = np.concatenate([c[0] for c in entry.pending])
            nt = np.concatenate([c[1] for c in entry.pending])
            nv = np.concatenate([c[2] for c in entry.pending])
            keep = nt >= horizon
            ns, nt, nv = ns[keep], nt[keep], nv[keep]
            order = np.lexsort((nt, ns))  # stable: equal (series, ts) stay in append order
            ns, nt, nv = ns[order], nt[order], nv[order]
            old_key = (sid << _TS_BITS) | (ts - horizon)
            new_key = (ns << _TS_BITS) | (nt - horizon)
            at = np.searchsorted(old_key, new_key, "right")  # after equal keys: the newer write last
            sid, ts, vals = np.insert(sid, at, ns), np.insert(ts, at, nt), np.insert(vals, at, nv)
            key = (sid << _TS_BITS) | (ts - horizon)
            if len(key) > 1:
                last = np.empty(len(key), dtype=np.bool_)
                np.not_equal(key[1:], key[:-1], out=last[:-1])
                last[-1] = True
                if not last.all():  # duplicate (series, ts): the last write wins, as in the store
                    sid, ts, vals = sid[last], ts[last], vals[last]
        entry.pending = []
        entry.compacted_ms = self.newest_ms
        present = np.zeros(len(entry.labels), dtype=np.bool_)
        present[sid] = True
        if not present.all():
            entry, sid = self._drop_absent(nid, entry, present, sid)
        entry.merged = (sid, ts, vals)
        return entry, sid, ts, vals

    def _drop_absent(
        self, nid: int, entry: _Name, present: npt.NDArray[np.bool_], sid: I64
    ) -> tuple[_Name, I64]:
        alive = np.flatnonzero(present)
        new = _Name(compacted_ms=entry.compacted_ms)
        for i in alive.tolist():
            new.labels.append(entry.labels[i])
            new.nameless.append(entry.nameless[i])
            new.refs.append(entry.refs[i])
        old_refs = np.asarray(entry.refs, dtype=np.int64)
        self._ref_local[old_refs[~present]] = -1
        self._ref_local[old_refs[alive]] = np.arange(len(alive), dtype=np.int64)
        remap = np.full(len(entry.labels), -1, dtype=np.int64)
        remap[alive] = np.arange(len(alive), dtype=np.int64)
        self._names[nid] = new
        return new, remap[sid]

    # -- reading -----------------------------------------------------------------------------------------

    def covers(self, start_ms: int) -> bool:
        """Whether the window holds every sample fed since ``start_ms`` (not evicted, not before start)."""
        return self.started_ms is not None and start_ms >= max(
            self.started_ms, self.newest_ms - self.retention_ms
        )

    def select_packed(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> Packed | None:
        """All samples of the selector in [start, end], or None when there is no ``__name__="x"`` matcher."""
        name = next((m.value for m in matchers if m.name == METRIC_NAME and m.op is MatchOp.EQ), None)
        if name is None:
            return None
        rest = tuple(m for m in matchers if not (m.name == METRIC_NAME and m.op is MatchOp.EQ))
        with self._lock:
            nid = self._name_ids.get(name)
            if nid is None:
                e = np.empty(0, dtype=np.int64)
                return Packed([], e, e, np.empty(0))
            entry, sid, ts, vals = self._compact(nid)
            labels, nameless = entry.labels, entry.nameless
            n_labels = len(labels)  # the lists may grow once the lock is released
            mask = None
            if rest:
                cached = entry.masks.get(rest)
                if cached is None or cached[0] != len(labels):
                    m = np.fromiter(
                        (all(x.matches_labels(lb) for x in rest) for lb in labels), bool, len(labels)
                    )
                    cached = entry.masks[rest] = (len(labels), m)
                mask = cached[1]
        keep = (ts >= start_ms) & (ts <= end_ms)
        if mask is not None:
            keep &= mask[sid]
        sid, ts, vals = sid[keep], ts[keep], vals[keep]
        # sid is sorted (the columns are sorted by series, then time): unique ids and dense ranks linearly
        first = np.empty(len(sid), dtype=np.bool_)
        if len(sid):
            first[0] = True
            np.not_equal(sid[1:], sid[:-1], out=first[1:])
        uniq = sid[first]
        dense = np.cumsum(first, dtype=np.int64) - 1
        every = len(uniq) == n_labels  # every series of the name (the common case): copy the lists
        idx = uniq.tolist()
        return Packed(
            labels[:n_labels] if every else [labels[i] for i in idx],
            dense,
            ts,
            vals,
            nameless[:n_labels] if every else [nameless[i] for i in idx],
            uniq,
            entry,
        )

    def names(self) -> set[str]:
        """Metric names the window has been fed (a selector on another name must be answered by the store)."""
        with self._lock:
            return set(self._name_ids)

    def has_name(self, name: str) -> bool:
        with self._lock:
            return name in self._name_ids

    def samples(self) -> int:
        """Samples held (merged and pending), for memory accounting."""
        with self._lock:
            return sum(len(e.merged[0]) + sum(len(c[0]) for c in e.pending) for e in self._names)

    def live_series(self) -> int:
        """Series with a place in their name's columns (fed within the retention)."""
        with self._lock:
            return sum(len(e.labels) for e in self._names)

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        p = self.select_packed(matchers, start_ms, end_ms)
        if p is None:  # no name: the union over every name the other name matchers accept (slow path)
            by_name = [m for m in matchers if m.name == METRIC_NAME]
            rest = [m for m in matchers if m.name != METRIC_NAME]
            out: list[SeriesData] = []
            for name in sorted(self.names()):
                if all(m.matches(name) for m in by_name):
                    out += self.select([Matcher(METRIC_NAME, MatchOp.EQ, name), *rest], start_ms, end_ms)
            return sorted(out, key=lambda sd: sd.labels)
        cuts = np.flatnonzero(np.diff(p.sid)) + 1
        bounds = zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(p.sid)].tolist(), strict=True)
        return [SeriesData(p.labels[int(p.sid[a])], p.ts[a:b], p.vals[a:b]) for a, b in bounds if b > a]

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        return [s.labels for s in self.select(matchers, start_ms, end_ms)]


class WindowedQuerier:
    """Reads from the window when it covers the range and the selector names (``__name__="x"``) a metric the
    window has been fed, else from the store: nameless selectors (``{job="x"}``, ``{__name__=~"..."}``),
    names only the store has and ranges reaching past the window's start or retention take the normal path.
    """

    def __init__(self, window: RecentWindow, store: Querier) -> None:
        self.window, self._store = window, store

    def _use_window(self, matchers: Sequence[Matcher], start_ms: int) -> bool:
        name = next((m.value for m in matchers if m.name == METRIC_NAME and m.op is MatchOp.EQ), None)
        return name is not None and self.window.has_name(name) and self.window.covers(start_ms)

    def select_packed(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> Packed | None:
        return (
            self.window.select_packed(matchers, start_ms, end_ms)
            if self._use_window(matchers, start_ms)
            else None
        )

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        src: Querier = self.window if self._use_window(matchers, start_ms) else self._store
        return src.select(matchers, start_ms, end_ms)

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        src: Querier = self.window if self._use_window(matchers, start_ms) else self._store
        return src.series(matchers, start_ms, end_ms)


class WindowTee:
    """An Appender writing to the store, then (the window subscribing to committed samples) the same batch to
    the window. The refs handed out are the store's, so the store's append path is unchanged; a failed store
    append raises before the window sees the batch."""

    def __init__(self, store: Appender, window: RecentWindow) -> None:
        self.store, self.window = store, window
        self._map = np.full(1024, -1, dtype=np.int64)  # store ref -> window ref
        self._lock = threading.Lock()

    def series_ref(self, labels: Labels) -> int:
        ref = self.store.series_ref(labels)
        with self._lock:
            if ref >= len(self._map):
                grown = np.full(max(ref + 1, 2 * len(self._map)), -1, dtype=np.int64)
                grown[: len(self._map)] = self._map
                self._map = grown
            if self._map[ref] < 0:
                self._map[ref] = self.window.series_ref(labels)
        return ref

    def append(self, refs: IntColumn, timestamps_ms: IntColumn, values: FloatColumn) -> None:
        self.store.append(refs, timestamps_ms, values)
        if len(refs):
            self.window.append(self._map[np.asarray(refs, dtype=np.int64)], timestamps_ms, values)


class FanOut:
    """An Appender writing to several targets (the store first) with refs of its own, mapped per target.
    The server uses :class:`WindowTee` (the store's refs, no mapping on the store's path)."""

    def __init__(self, *targets: Appender) -> None:
        self._targets = targets
        self._refs: dict[Labels, int] = {}
        self._per: list[list[int]] = [[] for _ in targets]
        self._lock = threading.Lock()

    def series_ref(self, labels: Labels) -> int:
        with self._lock:
            ref = self._refs.get(labels)
            if ref is None:
                ref = self._refs[labels] = len(self._refs)
                for i, t in enumerate(self._targets):
                    self._per[i].append(t.series_ref(labels))
            return ref

    def append(self, refs: IntColumn, timestamps_ms: IntColumn, values: FloatColumn) -> None:
        for i, t in enumerate(self._targets):
            m = self._per[i]
            t.append([m[r] for r in refs], timestamps_ms, values)
