"""Per-query evaluation context: the step grid, the Querier, limits. One per query, never shared."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from metrics_store.base import Querier, StoreError
from metrics_store.model import Matcher, SeriesData
from metrics_store.promql._steps import I64
from metrics_store.promql.errors import QueryStorageError, QueryTimeoutError, TooManySamplesError

__all__ = ["EvalContext"]


@dataclass(slots=True)
class EvalContext:
    querier: Querier
    steps_ms: I64
    start_ms: int
    end_ms: int
    lookback_ms: int
    max_samples: int
    deadline: float
    monotonic: Callable[[], float]
    samples_loaded: int = 0
    # Selects already made by this query: (matchers, start, end, series). A later select whose matchers
    # include all of an earlier one's and whose range lies inside it is answered from those series.
    selected: list[tuple[frozenset[Matcher], int, int, list[SeriesData]]] = field(default_factory=list)

    @property
    def num_steps(self) -> int:
        return len(self.steps_ms)

    def check_deadline(self) -> None:
        if self.monotonic() > self.deadline:
            raise QueryTimeoutError

    def check_samples(self, n: int) -> None:
        """``n`` samples are about to be held by one step of the evaluation."""
        if n > self.max_samples:
            raise TooManySamplesError

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        self.check_deadline()
        data = self._reuse(frozenset(matchers), start_ms, end_ms)
        if data is None:
            try:
                data = self.querier.select(matchers, start_ms, end_ms)
            except StoreError as exc:
                raise QueryStorageError(f"storage error: {exc}") from exc
            self.selected.append((frozenset(matchers), start_ms, end_ms, list(data)))
        loaded = sum(len(s.timestamps_ms) for s in data)
        self.samples_loaded += loaded
        self.check_samples(loaded)
        self.check_deadline()
        return data

    def prefetch(self, matchers: frozenset[Matcher], start_ms: int, end_ms: int) -> None:
        """Read ``matchers`` over the range for later selects (see ``_prefetch``); counts no samples, the
        selects served from it do."""
        self.check_deadline()
        try:
            data = self.querier.select(list(matchers), start_ms, end_ms)
        except StoreError as exc:
            raise QueryStorageError(f"storage error: {exc}") from exc
        self.selected.append((matchers, start_ms, end_ms, data))

    def _reuse(self, matchers: frozenset[Matcher], start_ms: int, end_ms: int) -> list[SeriesData] | None:
        for done, lo, hi, series in self.selected:
            if done <= matchers and lo <= start_ms and end_ms <= hi:
                extra = matchers - done
                out = []
                for sd in series:
                    if all(m.matches_labels(sd.labels) for m in extra):
                        ts = sd.timestamps_ms
                        a = int(np.searchsorted(ts, start_ms, side="left"))
                        b = int(np.searchsorted(ts, end_ms, side="right"))
                        if b > a:
                            out.append(SeriesData(sd.labels, ts[a:b], sd.values[a:b]))
                return out
        return None
