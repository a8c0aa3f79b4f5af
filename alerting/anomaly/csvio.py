"""Streaming NAB-format CSV scoring: ``timestamp,value`` in, ``timestamp,value,anomaly_score`` out."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO

from alerting.anomaly import default_detector

__all__ = ["CsvFormatError", "iter_scores", "score_csv"]


class CsvFormatError(ValueError):
    """A bad input row; the message names the source and the 1-based line."""


def _rows(lines: Iterable[str], source: str) -> Iterator[tuple[str, str, float, datetime]]:
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise CsvFormatError(f"{source}:1: empty file (expected a 'timestamp,value' header)")
    if [h.strip().lower() for h in header[:2]] != ["timestamp", "value"]:
        raise CsvFormatError(f"{source}:1: header {header!r}: expected 'timestamp,value'")
    for row in reader:
        line = reader.line_num
        if not row:
            continue
        if len(row) < 2:
            raise CsvFormatError(f"{source}:{line}: expected 'timestamp,value', got {','.join(row)!r}")
        try:
            t = datetime.fromisoformat(row[0].strip())
        except ValueError:
            raise CsvFormatError(f"{source}:{line}: bad timestamp {row[0]!r}") from None
        try:
            x = float(row[1])
        except ValueError:
            raise CsvFormatError(f"{source}:{line}: bad value {row[1]!r}") from None
        if not math.isfinite(x):
            raise CsvFormatError(f"{source}:{line}: value {row[1]!r} is not finite")
        yield row[0], row[1], x, t


def iter_scores(lines: Iterable[str], source: str) -> Iterator[tuple[str, str, float]]:
    """(timestamp text, value text, score) per row, scored by :func:`default_detector` as rows arrive."""
    det = default_detector()
    for ts, raw, x, t in _rows(lines, source):
        yield ts, raw, det.process(x, t)


def score_csv(lines: Iterable[str], out: IO[str], source: str = "<stdin>") -> int:
    """Write ``timestamp,value,anomaly_score`` for every row; return the number of rows."""
    out.write("timestamp,value,anomaly_score\n")
    n = 0
    for ts, raw, score in iter_scores(lines, source):
        out.write(f"{ts},{raw},{score:.6f}\n")
        n += 1
    return n
