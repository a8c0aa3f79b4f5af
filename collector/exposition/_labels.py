"""``series_key`` -> canonical :data:`metrics_store.model.Labels`, memoised (bounded LRU)."""

from __future__ import annotations

from functools import lru_cache

from collector.exposition._errors import ParseError
from collector.exposition._textscan import ScanError, scan_series
from metrics_store.model import METRIC_NAME, Labels, labels_from

__all__ = ["SERIES_LABELS_CACHE_SIZE", "series_labels"]

SERIES_LABELS_CACHE_SIZE = 1 << 17


@lru_cache(maxsize=SERIES_LABELS_CACHE_SIZE)
def series_labels(series_key: str) -> Labels:
    """Canonical labels (with ``__name__``, empty values dropped) of a key returned by ``parse()``.

    Both formats' keys are text-format series specifications (OpenMetrics' syntax is a subset), so one
    scanner serves both. Thread-safe (``functools.lru_cache``). Raises :class:`ParseError` for a string
    that is not a series key.
    """
    try:
        spec = scan_series(series_key, 0, utf8_names=True, check_utf8=False) if series_key else None
    except ScanError as exc:
        raise ParseError(f"invalid series key {series_key!r}: {exc.message}", 1, exc.column) from None
    if spec is None or spec.end != len(series_key):
        raise ParseError(f"invalid series key {series_key!r}", 1, 1)
    return labels_from([(METRIC_NAME, spec.name), *spec.labels])
