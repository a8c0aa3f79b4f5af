"""A per-cycle select cache: every rule of a cycle evaluates at (nearly) the same time and most rules share
selectors, so each distinct matcher set is read from the store once per cycle and later selects are sliced
from memory. Wrap the store with it (``Engine(CycleCache(store))``) and give it to the RuleManager, which
calls :meth:`CycleCache.reset` before each cycle. Thread safety: one evaluation cycle at a time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from metrics_store.base import Querier
from metrics_store.model import Labels, Matcher, SeriesData

__all__ = ["CycleCache"]


class CycleCache:
    def __init__(self, querier: Querier, *, prefetch_ms: int = 20 * 60_000) -> None:
        self._querier = querier
        self._prefetch_ms = prefetch_ms
        self._cache: dict[tuple[Matcher, ...], tuple[int, int, list[SeriesData]]] = {}
        self.hits = 0
        self.misses = 0

    def reset(self) -> None:
        self._cache.clear()

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        key = tuple(sorted(matchers, key=lambda m: (m.name, m.op.value, m.value)))
        hit = self._cache.get(key)
        if hit is None or hit[0] > start_ms or hit[1] < end_ms:
            lo = min(start_ms, end_ms - self._prefetch_ms)
            self.misses += 1
            data = self._querier.select(matchers, lo, end_ms)
            self._cache[key] = (lo, end_ms, data)
            if lo == start_ms:
                return data
            hit = self._cache[key]
        else:
            self.hits += 1
        out = []
        for s in hit[2]:
            i = int(np.searchsorted(s.timestamps_ms, start_ms, "left"))
            j = int(np.searchsorted(s.timestamps_ms, end_ms, "right"))
            if i < j:
                out.append(SeriesData(s.labels, s.timestamps_ms[i:j], s.values[i:j]))
        return out

    def select_packed(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> object | None:
        """Columns straight from the underlying querier when it offers them (the RecentWindow does)."""
        packer = getattr(self._querier, "select_packed", None)
        return packer(matchers, start_ms, end_ms) if packer is not None else None

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        return [s.labels for s in self.select(matchers, start_ms, end_ms)]
