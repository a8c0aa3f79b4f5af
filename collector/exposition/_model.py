"""What :func:`collector.exposition.parse` returns: flat samples plus per-family metadata."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat

__all__ = ["Exposition", "FamilyMeta", "Sample"]

Sample = tuple[str, float, int | None]
"""``(series_key, value, timestamp_ms or None)``; ``series_key`` is opaque, see :func:`series_labels`."""


@dataclass(slots=True)
class FamilyMeta:
    """Metadata of one metric family.

    ``type`` is one of counter, gauge, histogram, summary, untyped (text format; ``gaugehistogram`` is also
    accepted there, as the Go parser does) or counter, gauge, histogram, gaugehistogram, summary, info,
    stateset, unknown (OpenMetrics).
    """

    name: str
    type: str
    help: str | None = None
    unit: str | None = None


class Exposition:
    """One parsed body. ``samples`` are in input order; ``families`` lists only families with samples.

    ``columns``, when not None (set by the steady-state parse when no sample has a timestamp): the samples'
    keys and values as two lists in the same order, for consumers that work on columns (read-only: the
    keys list is shared with later results of the same target). ``samples`` is then built from them on
    first use; ``sample_count`` does not build it."""

    __slots__ = ("_samples", "columns", "families")

    def __init__(
        self,
        samples: list[Sample] | None = None,
        families: dict[str, FamilyMeta] | None = None,
        columns: tuple[list[str], list[float]] | None = None,
    ) -> None:
        self._samples = samples if samples is not None or columns is not None else []
        self.families: dict[str, FamilyMeta] = families if families is not None else {}
        self.columns = columns

    @property
    def samples(self) -> list[Sample]:
        if self._samples is None:
            assert self.columns is not None
            keys, values = self.columns
            self._samples = list(zip(keys, values, repeat(None)))
        return self._samples

    @property
    def sample_count(self) -> int:
        if self._samples is None and self.columns is not None:
            return len(self.columns[0])
        return len(self.samples)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Exposition):
            return NotImplemented
        return self.samples == other.samples and self.families == other.families

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it replaced

    def __repr__(self) -> str:
        return f"Exposition(samples={self.samples!r}, families={self.families!r})"
