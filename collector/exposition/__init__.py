"""Exposition parsing: Prometheus text format 0.0.4 and OpenMetrics 1.0 -> flat samples + family metadata.

    from collector.exposition import parse, series_labels
    exp = parse(body, content_type)            # raises ParseError (line, column, message)
    for key, value, ts_ms in exp.samples:      # ts_ms is None unless the line carried a timestamp
        labels = series_labels(key)            # cached; includes __name__

``series_key`` is the raw text of the line's series specification (``name{l="v"}``): the same key always
means the same labels, but one series may appear under several keys if an exporter spells it differently
(whitespace, label order), so map keys to store refs through :func:`series_labels`, not by key equality.
Keys stay valid across parses and processes (they are plain text).

The text format follows the reference Go parser (``expfmt``) with the legacy (classic) name rules; use
``ExpositionParser(utf8_names=True)`` to accept quoted UTF-8 names. OpenMetrics: exemplars are validated and
dropped, ``_created`` samples are kept, timestamps (seconds) are converted to milliseconds.
"""

from __future__ import annotations

from collector.exposition._errors import ParseError
from collector.exposition._labels import series_labels
from collector.exposition._model import Exposition, FamilyMeta, Sample
from collector.exposition._parser import OPENMETRICS_CONTENT_TYPE, ExpositionParser, default_parser, parse
from collector.exposition._replay import ParseMemo

__all__ = [
    "OPENMETRICS_CONTENT_TYPE",
    "Exposition",
    "ExpositionParser",
    "FamilyMeta",
    "ParseError",
    "ParseMemo",
    "Sample",
    "default_parser",
    "parse",
    "series_labels",
]
