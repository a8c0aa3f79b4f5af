"""Seams of the metrics store.

Ownership: the store owns series identity (label set -> integer ref) and durability. Callers (the collector,
recording rules, remote-write receivers) own their own ref caches and must never reuse a ref across stores.

Thread safety: every implementation must allow ``append`` from many threads and ``select``/``series`` from
others concurrently; a query sees every sample whose ``append`` call has returned.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from metrics_store.model import Labels, Matcher, SeriesData

__all__ = ["Appender", "FloatColumn", "IntColumn", "MetricsStore", "Querier", "SlicedQuerier", "StoreError"]

# ``append``'s columns: Python sequences, or numpy arrays (the collector's steady-state scrapes pass arrays,
# which the embedded store takes without a per-element conversion)
IntColumn = Sequence[int] | npt.NDArray[np.int64]
FloatColumn = Sequence[float] | npt.NDArray[np.float64]


class StoreError(Exception):
    """Base of every error a metrics store raises (driver and HTTP errors are chained as ``__cause__``)."""


@runtime_checkable
class Appender(Protocol):
    def series_ref(self, labels: Labels) -> int:
        """Stable integer reference for ``labels`` (canonical, see :mod:`metrics_store.model`)."""
        ...

    def append(self, refs: IntColumn, timestamps_ms: IntColumn, values: FloatColumn) -> None:
        """Add samples (three parallel sequences or arrays). When this returns, the samples are durable: they
        survive a kill -9 of the process. Out-of-order samples for a series are accepted and stored in
        order."""
        ...


@runtime_checkable
class Querier(Protocol):
    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        """Series matching all ``matchers`` with their samples in ``[start_ms, end_ms]`` (inclusive),
        ascending by timestamp. Series without samples in the range are omitted."""
        ...

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        """Label sets of series matching ``matchers`` that have at least one sample in the range."""
        ...


@runtime_checkable
class SlicedQuerier(Protocol):
    """A Querier that can also read a select in slices (the embedded store): the PromQL engine evaluates
    per-series functions slice by slice, so a long range's samples are never all held at once."""

    def select_slices(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> Iterator[list[SeriesData]]:
        """The series of ``select(matchers, start_ms, end_ms)``, each in exactly one slice, slice by slice
        (a slice is read when the previous one has been consumed); in no particular label order, but the
        series of one slice are consecutive views of one timestamps and one values array, in that order
        (the engine takes those arrays' span instead of concatenating the series)."""
        ...


@runtime_checkable
class MetricsStore(Appender, Querier, Protocol):
    """An Appender and a Querier with a lifecycle."""

    def close(self) -> None:
        """Flush and release resources; idempotent."""
        ...
