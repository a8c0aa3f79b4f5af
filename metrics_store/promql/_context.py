"""Per-query evaluation context: the step grid, the Querier, limits. One per query, never shared."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from metrics_store.base import Querier, SlicedQuerier, StoreError
from metrics_store.model import Matcher, SeriesData
from metrics_store.promql._steps import I64
from metrics_store.promql.errors import QueryStorageError, QueryTimeoutError, TooManySamplesError
from metrics_store.promql.semantics import PROMETHEUS_3, Semantics

__all__ = ["EvalContext", "slice_series"]


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
    # Called with the number of samples of each fresh store read (held until the query ends): the
    # in-flight budget of ``_budget``; it may wait, or raise QueryBusyError / TooManySamplesError.
    reserve: Callable[[int], None] | None = None
    semantics: Semantics = PROMETHEUS_3  # which Prometheus' rules (range boundaries, regex `.`)
    samples_loaded: int = 0
    prefetched: int = 0  # samples held by prefetched reads (see ``prefetch``)
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
        fresh = data is None
        if data is None:
            try:
                data = self.querier.select(matchers, start_ms, end_ms)
            except StoreError as exc:
                raise QueryStorageError(f"storage error: {exc}") from exc
            self.selected.append((frozenset(matchers), start_ms, end_ms, list(data)))
        loaded = sum(len(s.timestamps_ms) for s in data)
        self.samples_loaded += loaded
        self.check_samples(loaded)
        if fresh and self.reserve is not None:
            self.reserve(loaded)
        self.check_deadline()
        return data

    @property
    def reads_in_slices(self) -> bool:
        """Whether the store can read a select in slices (:class:`SlicedQuerier`)."""
        return _sliced_querier(self.querier) is not None

    def sliceable(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> bool:
        """Whether :meth:`select_slices` would read the store in slices (no earlier read of this query
        holds these series, and the store reads in slices)."""
        return self.reads_in_slices and not any(
            done <= frozenset(matchers) and lo <= start_ms and end_ms <= hi
            for done, lo, hi, _ in self.selected
        )

    def select_slices(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> Iterator[list[SeriesData]]:
        """:meth:`select`'s series read slice by slice (see :class:`SlicedQuerier`; call only when
        :meth:`sliceable`), not kept for later selects. The limits apply to the slices' total as they do
        to one select's: ``max_samples`` to the samples read so far, the in-flight budget reserved slice by
        slice (held until the query ends, as a select's)."""
        querier = _sliced_querier(self.querier)
        if querier is None:  # sliceable() said so
            raise TypeError("select_slices needs a SlicedQuerier")
        self.check_deadline()
        loaded = 0
        slices = querier.select_slices(matchers, start_ms, end_ms)
        while True:
            try:
                data = next(slices, None)
            except StoreError as exc:
                raise QueryStorageError(f"storage error: {exc}") from exc
            if data is None:
                return
            read = sum(len(s.timestamps_ms) for s in data)
            loaded += read
            self.samples_loaded += read
            self.check_samples(loaded)
            if self.reserve is not None:
                self.reserve(read)
            self.check_deadline()
            yield data

    def prefetch(self, matchers: frozenset[Matcher], start_ms: int, end_ms: int) -> None:
        """Read ``matchers`` over the range for later selects (see ``_prefetch``). The samples read are held
        until the query ends, so they count against ``max_samples`` together with every earlier prefetch
        (:class:`TooManySamplesError` past it); ``samples_loaded`` counts the selects served from them."""
        self.check_deadline()
        try:
            data = self.querier.select(list(matchers), start_ms, end_ms)
        except StoreError as exc:
            raise QueryStorageError(f"storage error: {exc}") from exc
        read = sum(len(s.timestamps_ms) for s in data)
        self.prefetched += read
        self.check_samples(self.prefetched)
        if self.reserve is not None:
            self.reserve(read)
        self.selected.append((matchers, start_ms, end_ms, data))
        self.check_deadline()

    def _reuse(self, matchers: frozenset[Matcher], start_ms: int, end_ms: int) -> list[SeriesData] | None:
        for done, lo, hi, series in self.selected:
            if done <= matchers and lo <= start_ms and end_ms <= hi:
                extra = matchers - done
                chosen = [sd for sd in series if all(m.matches_labels(sd.labels) for m in extra)]
                return slice_series(chosen, start_ms, end_ms)
        return None


def slice_series(series: list[SeriesData], start_ms: int, end_ms: int) -> list[SeriesData]:
    """Every series' samples in ``[start_ms, end_ms]``, series without any dropped; a series wholly inside
    is returned as is. One ``searchsorted`` pair over all series (each series' timestamps in a key block of
    its own: ``series * span + (t - t0)``) rather than a pair per series."""
    series = [sd for sd in series if len(sd.timestamps_ms)]
    if not series:
        return []
    sizes = np.fromiter((len(sd.timestamps_ms) for sd in series), np.int64, len(series))
    ts = np.concatenate([sd.timestamps_ms for sd in series])
    t0, t1 = min(int(ts.min()), start_ms), max(int(ts.max()), end_ms)
    span = t1 - t0 + 1
    if len(series) * span >= 2**62:
        bounds = [
            (
                int(np.searchsorted(sd.timestamps_ms, start_ms)),
                int(np.searchsorted(sd.timestamps_ms, end_ms, "right")),
            )
            for sd in series
        ]
    else:
        offsets = np.cumsum(sizes) - sizes
        key = np.repeat(np.arange(len(series), dtype=np.int64) * np.int64(span), sizes) + (ts - np.int64(t0))
        base = np.arange(len(series), dtype=np.int64) * np.int64(span) - np.int64(t0)
        a = np.searchsorted(key, base + start_ms, side="left") - offsets
        b = np.searchsorted(key, base + end_ms, side="right") - offsets
        bounds = list(zip(a.tolist(), b.tolist(), strict=True))
    out = []
    for sd, n, (a_k, b_k) in zip(series, sizes.tolist(), bounds, strict=True):
        if a_k == 0 and b_k == n:
            out.append(sd)
        elif b_k > a_k:
            out.append(SeriesData(sd.labels, sd.timestamps_ms[a_k:b_k], sd.values[a_k:b_k]))
    return out


def _sliced_querier(querier: Querier) -> SlicedQuerier | None:
    """``querier`` as a :class:`SlicedQuerier`, or None: decided by its class once (an ``isinstance`` against
    a runtime-checkable Protocol costs ~20 us, three times per selector on the hot read path)."""
    kind = type(querier)
    sliced = _SLICED_CLASSES.get(kind)
    if sliced is None:
        sliced = _SLICED_CLASSES[kind] = isinstance(querier, SlicedQuerier)
    return cast(SlicedQuerier, querier) if sliced else None


_SLICED_CLASSES: dict[type, bool] = {}
