"""Pieces both backends share: cursors, time formatting, the context source filter, histogram checks."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

import orjson

from log_pipeline.model import LogRecord
from log_pipeline.search.base import BadCursorError, InvalidArgumentError, SearchError
from log_pipeline.search.query import And, FieldRef, Node, Term

__all__ = [
    "NS_PER_MS",
    "check_histogram_args",
    "clamp_ns",
    "decode_cursor",
    "encode_cursor",
    "rfc3339_ns",
    "sort_key",
    "source_query",
]

NS_PER_MS = 1_000_000
MAX_BUCKETS = 11_000
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# The times RFC 3339 can write (years 0001 to 9999), in Unix nanoseconds.
_FIRST_NS = int(datetime(1, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
_LAST_NS = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()) * 1_000_000_000 + 999_999_999


def encode_cursor(record: LogRecord) -> str:
    raw = orjson.dumps([record.timestamp_ns, record.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise BadCursorError(f"invalid cursor {cursor!r}") from exc
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)) or not isinstance(
        value[1], str
    ):
        raise BadCursorError(f"invalid cursor {cursor!r}")
    return value[0], value[1]


def sort_key(record: LogRecord) -> tuple[int, str]:
    """Newest first means descending by this key."""
    return record.timestamp_ns, record.id


# the last second formatted and its text: a page of hits is in time order, so most share their second with
# the hit before (one tuple, replaced whole: safe from any thread)
_last_second: tuple[int | None, str] = (None, "")


def rfc3339_ns(ns: int) -> str:
    """``2024-05-01T12:00:00.123456789Z`` (nanoseconds kept)."""
    global _last_second  # noqa: PLW0603 - a one-entry cache
    secs, frac = divmod(ns, 1_000_000_000)
    last = _last_second
    if last[0] != secs:
        last = _last_second = (secs, datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{last[1]}.{frac:09d}Z"


def source_query(record: LogRecord) -> Node:
    """The records from the same source as ``record``: same app+instance (and the same org and space: an
    app name is unique only within its space), else same host."""
    labels = record.labels
    if labels.get("app"):
        terms = [
            Term(FieldRef("label", name), labels[name])
            for name in ("org", "space", "app", "instance")
            if labels.get(name)
        ]
        return And(tuple(terms))
    if labels.get("host"):
        return Term(FieldRef("label", "host"), labels["host"])
    raise SearchError(f"record {record.id!r} has neither app nor host labels; no context source")


def clamp_ns(t: int | None) -> int | None:
    """A search bound within int64 nanoseconds (the type of every stored timestamp, in both backends): the
    API passes on any integer it parses, and a wider bound selects the same records."""
    return None if t is None else min(max(t, _INT64_MIN), _INT64_MAX)


def check_histogram_args(start_ns: int, end_ns: int, step_ns: int) -> int:
    """Validate and return the number of buckets."""
    if step_ns <= 0 or step_ns % NS_PER_MS:
        raise InvalidArgumentError("histogram step must be a positive whole number of milliseconds")
    if end_ns < start_ns:
        raise InvalidArgumentError("histogram end is before start")
    if start_ns < _FIRST_NS or end_ns > _LAST_NS:  # bucket times are printed with rfc3339_ns
        raise InvalidArgumentError("histogram start and end must lie within the years 0001 to 9999")
    buckets = (end_ns - start_ns) // step_ns + 1
    if buckets > MAX_BUCKETS:
        raise InvalidArgumentError(
            f"histogram would have {buckets} buckets (max {MAX_BUCKETS}); use a larger step"
        )
    return buckets
