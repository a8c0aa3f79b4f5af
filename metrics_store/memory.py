"""In-process, non-durable store: the reference implementation of the contract, used in unit tests of the
query engine and as a scratch store for rule unit tests. Not durable: ``append`` keeps samples in RAM only."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence

import numpy as np

from metrics_store.base import FloatColumn, IntColumn
from metrics_store.model import Labels, Matcher, SeriesData

__all__ = ["MemoryStore"]


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refs: dict[Labels, int] = {}
        self._labels: list[Labels] = []
        self._ts: list[list[int]] = []
        self._vals: list[list[float]] = []

    def series_ref(self, labels: Labels) -> int:
        with self._lock:
            ref = self._refs.get(labels)
            if ref is None:
                ref = len(self._labels)
                self._refs[labels] = ref
                self._labels.append(labels)
                self._ts.append([])
                self._vals.append([])
            return ref

    def append(self, refs: IntColumn, timestamps_ms: IntColumn, values: FloatColumn) -> None:
        with self._lock:
            for ref, ts, val in zip(refs, timestamps_ms, values, strict=True):
                tss, vals = self._ts[ref], self._vals[ref]
                if not tss or ts > tss[-1]:
                    tss.append(int(ts))
                    vals.append(float(val))
                    continue
                i = bisect.bisect_left(tss, ts)
                if i < len(tss) and tss[i] == ts:
                    vals[i] = float(val)
                else:
                    tss.insert(i, int(ts))
                    vals.insert(i, float(val))

    def _matching(self, matchers: Sequence[Matcher]) -> list[int]:
        return [
            ref for ref, labels in enumerate(self._labels) if all(m.matches_labels(labels) for m in matchers)
        ]

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        out: list[SeriesData] = []
        with self._lock:
            for ref in self._matching(matchers):
                tss = self._ts[ref]
                lo, hi = bisect.bisect_left(tss, start_ms), bisect.bisect_right(tss, end_ms)
                if lo < hi:
                    out.append(
                        SeriesData(
                            self._labels[ref],
                            np.array(tss[lo:hi], dtype=np.int64),
                            np.array(self._vals[ref][lo:hi], dtype=np.float64),
                        )
                    )
        return out

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        return [s.labels for s in self.select(matchers, start_ms, end_ms)]

    def close(self) -> None:
        return None
