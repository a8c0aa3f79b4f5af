"""Tantivy documents of log records as JSON text, for ``IndexWriter.add_json`` (issue 18's intake CPU).

A document built field by field (:func:`document`: ~12 calls into tantivy plus the ``src`` JSON) cost
~16 µs per line; the same document as one JSON text parsed by tantivy costs a few µs to build here, because
everything but the id, timestamps and message is a function of the record's ``src`` bytes (labels, fields,
pattern id and template), which repeat from line to line: :class:`DocBuilder` keeps the rest of the JSON
text (``lbl``, ``kv``, ``num`` and the base64 of ``src``) per ``src``, in a bounded cache.

Both builders give the same document (differential test: ``tests/log_pipeline/test_tantivy_docs.py``).
A record whose values JSON cannot carry exactly (a non-finite float becomes ``null``, an integer beyond
64 bits or a lone surrogate does not encode, a timestamp beyond i64) gets ``None`` from
:meth:`DocBuilder.json`: the caller builds it with :func:`document`.
"""

from __future__ import annotations

import base64
import math

import orjson
import tantivy

from log_pipeline.model import FieldValue, LogRecord
from log_pipeline.search._common import NS_PER_MS

__all__ = ["DocBuilder", "Row", "document"]

# (id, timestamp_ns, message, labels, fields, pattern_id, template): a record as plain values
Row = tuple[str, int, str, dict[str, str], dict[str, FieldValue], str, str]

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_NO_JSON = b""  # cached for a ``src`` whose fields JSON would not carry exactly


def _src(labels: dict[str, str], fields: dict[str, FieldValue], pattern_id: str, template: str) -> bytes:
    return orjson.dumps({"l": labels, "f": fields, "p": pattern_id, "t": template})


def _numbers(fields: dict[str, FieldValue]) -> dict[str, int | float]:
    return {
        name: fv for name, fv in fields.items() if isinstance(fv, int | float) and not isinstance(fv, bool)
    }


def document(r: LogRecord) -> tantivy.Document:
    """The record's document, field by field (the reference; used when JSON would not be exact)."""
    doc = tantivy.Document()
    add_text = doc.add_text
    ts = r.timestamp_ns
    add_text("id", r.id)
    doc.add_integer("ts", ts)
    doc.add_integer("ts_ms", ts // NS_PER_MS)
    add_text("message", r.message)
    for name, value in r.labels.items():
        add_text("lbl", f"{name}={value}")
    if r.fields:
        for name, fv in r.fields.items():
            add_text("kv", f"{name}={fv}")
        numbers = _numbers(r.fields)
        if numbers:
            doc.add_json("num", numbers)
    doc.add_bytes("src", _src(r.labels, r.fields, r.pattern_id, r.template))
    return doc


def _exact(numbers: dict[str, int | float]) -> bool:
    return all(
        math.isfinite(v) if isinstance(v, float) else _I64_MIN <= v <= _I64_MAX for v in numbers.values()
    )


def _tail(labels: dict[str, str], fields: dict[str, FieldValue], src: bytes) -> bytes:
    """``,"lbl":[...],"kv":[...],"num":{...},"src":"<base64>"}`` for the record with these values, or
    :data:`_NO_JSON` when JSON would not carry them exactly."""
    rest: dict[str, object] = {}
    if labels:
        rest["lbl"] = [f"{name}={value}" for name, value in labels.items()]
    if fields:
        rest["kv"] = [f"{name}={fv}" for name, fv in fields.items()]
        numbers = _numbers(fields)
        if numbers:
            if not _exact(numbers):
                return _NO_JSON
            rest["num"] = numbers
    rest["src"] = base64.b64encode(src).decode("ascii")
    try:
        return b"," + orjson.dumps(rest)[1:]
    except orjson.JSONEncodeError:  # a lone surrogate in a label or field
        return _NO_JSON


class DocBuilder:
    """Documents as JSON text (see the module docstring). The cache is bounded by entries (``max_cached``)
    and by bytes (``max_cached_bytes``, keys and values), and is emptied when either is reached; a ``src``
    over ``max_src_bytes`` (a sender's big structured data, rarely repeated) is never cached, so a stream of
    unique large lines cannot make the index process hold gigabytes. Not thread-safe: the store calls it
    under its write lock."""

    def __init__(
        self, max_cached: int = 16_384, max_cached_bytes: int = 32 << 20, max_src_bytes: int = 4_096
    ) -> None:
        self._tails: dict[bytes, bytes] = {}
        self._max = max_cached
        self._max_bytes = max_cached_bytes
        self._max_src = max_src_bytes
        self._bytes = 0

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def json(self, row: Row) -> str | None:
        """The document of ``row`` as JSON text, or None: build it with :func:`document` instead."""
        rid, ts, message, labels, fields, pattern_id, template = row
        if not _I64_MIN <= ts <= _I64_MAX:
            return None
        try:
            src = _src(labels, fields, pattern_id, template)
            head = orjson.dumps({"id": rid, "ts": ts, "ts_ms": ts // NS_PER_MS, "message": message})
        except orjson.JSONEncodeError:  # a lone surrogate, an integer beyond 64 bits
            return None
        tail = self._tails.get(src)
        if tail is None:
            tail = _tail(labels, fields, src)
            if len(src) <= self._max_src:
                if len(self._tails) >= self._max or self._bytes >= self._max_bytes:
                    self._tails.clear()
                    self._bytes = 0
                self._tails[src] = tail
                self._bytes += len(src) + len(tail)
        if not tail:
            return None
        return (head[:-1] + tail).decode()
