"""Load traces for the capacity simulator: a NAB-format CSV (``timestamp,value``) read with limits, checked
row by row (errors name the file and the 1-based line) and interpolated to one point a minute.

The value is load in requests/s; negative values (some NAB series are centred on zero) are clipped to 0.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_MINUTES",
    "STEP_S",
    "LoadTrace",
    "TraceFormatError",
    "interpolate",
    "parse_rows",
    "read_trace",
]

STEP_S = 60.0
MAX_FILE_BYTES = 64 * 1024 * 1024  # a NAB file is < 1 MiB; anything this large is not a trace
MAX_ROWS = 1_000_000
MAX_MINUTES = 2_000_000  # ~3.8 years at one point a minute
_MAX_LINE_CHARS = 4096


class TraceFormatError(ValueError):
    """A trace that cannot be simulated; the message names the file and, where one is at fault, the line."""


@dataclass(frozen=True)
class LoadTrace:
    """A trace on a regular one-minute grid: ``times`` (epoch seconds) and ``load`` (requests/s, ≥ 0)."""

    source: str
    times: npt.NDArray[np.float64]
    load: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.load.shape[0])


def _parse_time(text: str, source: str, line: int) -> float:
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TraceFormatError(f"{source}:{line}: bad timestamp {text[:80]!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def _parse_value(text: str, source: str, line: int) -> float:
    try:
        x = float(text)
    except ValueError:
        raise TraceFormatError(f"{source}:{line}: bad value {text[:80]!r} (not a number)") from None
    if not math.isfinite(x):
        raise TraceFormatError(f"{source}:{line}: value {text[:80]!r} is not finite")
    return x


def parse_rows(lines: Iterable[str], source: str) -> tuple[list[float], list[float]]:
    """Rows of a ``timestamp,value`` CSV as (epoch seconds, value), strictly increasing in time; rows
    that repeat the previous timestamp are merged into their mean; an earlier timestamp is an error."""
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None:
            raise TraceFormatError(f"{source}:1: empty file (expected a 'timestamp,value' header)")
        if [h.strip().lower() for h in header[:2]] != ["timestamp", "value"]:
            raise TraceFormatError(f"{source}:1: header {header[:2]!r}: expected 'timestamp,value'")
        times: list[float] = []
        values: list[float] = []
        repeats = 1
        for row in reader:
            line = reader.line_num
            if not row or not any(c.strip() for c in row):
                continue
            if len(row) < 2 or sum(map(len, row)) > _MAX_LINE_CHARS:
                raise TraceFormatError(f"{source}:{line}: expected 'timestamp,value'")
            t = _parse_time(row[0], source, line)
            x = _parse_value(row[1], source, line)
            if times and t < times[-1]:
                raise TraceFormatError(
                    f"{source}:{line}: timestamp {row[0].strip()!r} before the previous row's (unsorted)"
                )
            # a repeated timestamp (NAB has some, at DST changes): the mean of the rows
            if times and t == times[-1]:
                repeats += 1
                values[-1] += (x - values[-1]) / repeats
                continue
            repeats = 1
            if len(times) >= MAX_ROWS:
                raise TraceFormatError(f"{source}:{line}: more than {MAX_ROWS} rows")
            times.append(t)
            values.append(x)
    except csv.Error as exc:
        raise TraceFormatError(f"{source}:{reader.line_num}: {exc}") from None
    if len(times) < 2:
        raise TraceFormatError(f"{source}: needs at least two data rows, has {len(times)}")
    return times, values


def interpolate(times: Sequence[float], values: Sequence[float], source: str = "<trace>") -> LoadTrace:
    """Linear interpolation onto a one-minute grid from the first timestamp; load clipped at 0."""
    span = times[-1] - times[0]
    minutes = int(span // STEP_S) + 1
    if minutes > MAX_MINUTES:
        raise TraceFormatError(f"{source}: spans {span / 86400:.0f} days; at most {MAX_MINUTES} minutes")
    grid = times[0] + STEP_S * np.arange(minutes, dtype=np.float64)
    load = np.interp(grid, np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64))
    return LoadTrace(source, grid, np.clip(load, 0.0, None))


def read_trace(path: Path) -> LoadTrace:
    """Read, check and interpolate one NAB-format file (at most :data:`MAX_FILE_BYTES`)."""
    source = str(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise TraceFormatError(f"{source}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise TraceFormatError(f"{source}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TraceFormatError(f"{source}:{line}: not UTF-8 text") from None
    times, values = parse_rows(io.StringIO(text, newline=""), source)
    return interpolate(times, values, source)
