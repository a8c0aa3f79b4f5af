"""What :func:`collector.exposition.parse` returns: flat samples plus per-family metadata."""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(slots=True)
class Exposition:
    """One parsed body. ``samples`` are in input order; ``families`` lists only families with samples.
    ``columns``, when not None (set by the steady-state parse when no sample has a timestamp): the samples'
    keys and values as two lists in the same order, for consumers that work on columns (read-only: the
    keys list may be shared with later results of the same target)."""

    samples: list[Sample] = field(default_factory=list)
    families: dict[str, FamilyMeta] = field(default_factory=dict)
    columns: tuple[list[str], list[float]] | None = None
