"""The latest samples in memory, columnar per metric name, for rule evaluation on the newest data.

``RecentWindow`` is an Appender (tee the collector's appends into it with :class:`FanOut`) keeping the last
``retention_ms`` of every series as numpy chunks per metric name, and a Querier. :meth:`select_packed`
returns all samples of a selector as sorted columns without any per-series Python work, which is what the
rule fast path consumes. ``WindowedQuerier`` answers from the window when it covers the requested range and
from the store otherwise. Same-timestamp duplicates are not collapsed (the collector never sends them).
Thread safety: one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from metrics_store.base import Appender, Querier
from metrics_store.model import METRIC_NAME, Labels, Matcher, MatchOp, SeriesData

__all__ = ["FanOut", "Packed", "RecentWindow", "WindowedQuerier"]


@dataclass(slots=True)
class Packed:
    """Samples of several series as columns sorted by (series, time); ``sid`` indexes ``labels``."""

    labels: list[Labels]
    sid: npt.NDArray[np.int64]
    ts: npt.NDArray[np.int64]
    vals: npt.NDArray[np.float64]
    nameless: list[Labels] = field(default_factory=list)  # labels without __name__, same order
    local: npt.NDArray[np.int64] | None = None  # window-local index of each packed series
    source: object = None  # the window's per-name entry (for per-name caches)


@dataclass(slots=True)
class _Name:
    labels: list[Labels] = field(default_factory=list)
    nameless: list[Labels] = field(default_factory=list)
    chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)  # sid, ts, vals
    masks: dict[tuple[Matcher, ...], tuple[int, np.ndarray]] = field(default_factory=dict)


class RecentWindow:
    def __init__(self, retention_ms: int = 15 * 60_000) -> None:
        self.retention_ms = retention_ms
        self._lock = threading.Lock()
        self._refs: dict[Labels, int] = {}
        self._names: list[_Name] = []
        self._name_ids: dict[str, int] = {}
        self._ref_name: list[int] = []
        self._ref_local: list[int] = []
        self._ref_name_np = np.empty(0, dtype=np.int64)
        self._ref_local_np = np.empty(0, dtype=np.int64)
        self.started_ms: int | None = None
        self.newest_ms = 0

    def series_ref(self, labels: Labels) -> int:
        with self._lock:
            ref = self._refs.get(labels)
            if ref is None:
                ref = self._refs[labels] = len(self._ref_name)
                name = dict(labels).get(METRIC_NAME, "")
                nid = self._name_ids.setdefault(name, len(self._names))
                if nid == len(self._names):
                    self._names.append(_Name())
                self._ref_name.append(nid)
                self._ref_local.append(len(self._names[nid].labels))
                self._names[nid].labels.append(labels)
                self._names[nid].nameless.append(tuple(p for p in labels if p[0] != METRIC_NAME))
            return ref

    def append(self, refs: Sequence[int], timestamps_ms: Sequence[int], values: Sequence[float]) -> None:
        if not len(refs):
            return
        r = np.asarray(refs, dtype=np.int64)
        t = np.asarray(timestamps_ms, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        with self._lock:
            if len(self._ref_name_np) != len(self._ref_name):
                self._ref_name_np = np.asarray(self._ref_name, dtype=np.int64)
                self._ref_local_np = np.asarray(self._ref_local, dtype=np.int64)
            if self.started_ms is None:
                self.started_ms = int(t.min())
            self.newest_ms = max(self.newest_ms, int(t.max()))
            nids = self._ref_name_np[r]
            order = np.argsort(nids, kind="stable")
            nids, r, t, v = nids[order], r[order], t[order], v[order]
            cuts = np.flatnonzero(np.diff(nids)) + 1
            for lo, hi in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(nids)].tolist(), strict=True):
                entry = self._names[int(nids[lo])]
                entry.chunks.append((self._ref_local_np[r[lo:hi]], t[lo:hi], v[lo:hi]))
                if len(entry.chunks) > 64:
                    self._compact(entry)

    def _compact(self, entry: _Name) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if len(entry.chunks) == 1:
            return entry.chunks[0]
        sid = np.concatenate([c[0] for c in entry.chunks])
        ts = np.concatenate([c[1] for c in entry.chunks])
        vals = np.concatenate([c[2] for c in entry.chunks])
        keep = ts >= self.newest_ms - self.retention_ms
        sid, ts, vals = sid[keep], ts[keep], vals[keep]
        order = np.lexsort((ts, sid))
        one = (sid[order], ts[order], vals[order])
        entry.chunks = [one]
        return one

    def covers(self, start_ms: int) -> bool:
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
            entry = self._names[nid]
            sid, ts, vals = self._compact(entry)
            labels, nameless = entry.labels, entry.nameless
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
        uniq, dense = np.unique(sid, return_inverse=True)
        idx = uniq.tolist()
        return Packed(
            [labels[i] for i in idx],
            dense.astype(np.int64),
            ts,
            vals,
            [nameless[i] for i in idx],
            uniq,
            entry,
        )

    def names(self) -> set[str]:
        """Metric names the window has seen (a selector on another name must be answered by the store)."""
        with self._lock:
            return set(self._name_ids)

    def has_name(self, name: str) -> bool:
        with self._lock:
            return name in self._name_ids

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
    window has been fed, else from the store: nameless selectors (``{job="x"}``, ``{__name__=~"..."}``) and
    names written by other appenders (recording rules, ``ALERTS``, the log pipeline) take the normal path."""

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


class FanOut:
    """An Appender writing to several targets (the store first); refs are mapped per target."""

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

    def append(self, refs: Sequence[int], timestamps_ms: Sequence[int], values: Sequence[float]) -> None:
        for i, t in enumerate(self._targets):
            m = self._per[i]
            t.append([m[r] for r in refs], timestamps_ms, values)
