"""Public result types of a query, as Prometheus' API returns them.

Timestamps are Unix milliseconds (int). Values are float64 (NaN and +-Inf included). Every type is immutable
and safe to share between threads.
"""

from __future__ import annotations

from dataclasses import dataclass

from metrics_store.model import Labels

__all__ = ["Matrix", "QueryValue", "Sample", "Scalar", "Series", "String", "Vector"]


@dataclass(frozen=True, slots=True)
class Scalar:
    timestamp_ms: int
    value: float


@dataclass(frozen=True, slots=True)
class String:
    timestamp_ms: int
    value: str


@dataclass(frozen=True, slots=True)
class Sample:
    """One element of an instant vector."""

    labels: Labels
    timestamp_ms: int
    value: float


@dataclass(frozen=True, slots=True)
class Vector:
    samples: tuple[Sample, ...]


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a matrix: parallel timestamp / value tuples, ascending by time."""

    labels: Labels
    timestamps_ms: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Matrix:
    series: tuple[Series, ...]


QueryValue = Scalar | String | Vector | Matrix
