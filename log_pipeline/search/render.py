"""The CPU-heavy part of a log search response, as plain functions of a store: query, highlight, encode.

:func:`search_body` and :func:`context_body` build the whole JSON body of ``/api/v1/logs/search`` and
``/api/v1/logs/context`` (see :mod:`log_pipeline.api` for the format). They import no web framework, so a
search worker process (:mod:`log_pipeline.search.workers`) runs them as well as the API's threads; both
are pure over ``store`` and safe from any thread.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import Any

import orjson

from log_pipeline.config import SearchApiConfig
from log_pipeline.model import LogRecord
from log_pipeline.search._common import encode_cursor, rfc3339_ns
from log_pipeline.search.base import SearchStore
from log_pipeline.search.highlight import Highlighter
from log_pipeline.search.query import Node, parse_query
from platforms.tenancy import FOUNDATION, Scope

__all__ = [
    "GZIP_LEVEL",
    "GZIP_MIN_BYTES",
    "SEARCH_CHUNK_HITS",
    "Body",
    "Marker",
    "SearchArgs",
    "context_body",
    "encode",
    "hit_json",
    "search_body",
]

SEARCH_CHUNK_HITS = 256  # records fetched from the store per call while a search response is built
GZIP_MIN_BYTES = 4096  # as the server's GZipMiddleware (paramedic.assembly.add_gzip)
# zlib's fast levels (1-3) skip lazy matching: on a 100-hit page of 23.6 KB (bench/README.md, 2026-12-07)
# level 3 takes 0.09 ms of CPU for 3,098 bytes, level 5 (the server's GZipMiddleware) 0.28 ms for 2,862
GZIP_LEVEL = 3
SearchArgs = tuple[str, int | None, int | None, int, str | None]  # q, start_ns, end_ns, limit, cursor


@dataclass(frozen=True, slots=True)
class Body:
    """A response body and its ``Content-Encoding`` (None: identity)."""

    content: bytes
    encoding: str | None = None


def encode(body: bytes, gzip_ok: bool) -> Body:
    """``body`` gzip-compressed when the client takes gzip and it is big enough to gain, else as it is (the
    work the server's GZipMiddleware would otherwise do in the server process)."""
    if gzip_ok and len(body) >= GZIP_MIN_BYTES:
        return Body(gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0), "gzip")
    return Body(body)


def hit_json(r: LogRecord) -> dict[str, Any]:
    return {
        "timestamp": rfc3339_ns(r.timestamp_ns),
        "message": r.message,
        "labels": r.labels,
        "fields": r.fields,
        "id": r.id,
        "pattern_id": r.pattern_id,
    }


class Marker:
    """Adds ``highlight`` to a hit's JSON (thread-safe: the prepared :class:`Highlighter` is immutable)."""

    def __init__(self, node: Node, limits: SearchApiConfig) -> None:
        self._max_spans = limits.max_highlight_spans
        self._hl = Highlighter(
            node, max_clauses=limits.max_highlight_clauses, max_spans=limits.max_highlight_spans
        )

    @property
    def warning(self) -> str | None:
        hl = self._hl
        if not hl.limited:
            return None
        return (
            f"highlighting used the first {hl.used} of the query's {hl.clauses} distinct clauses "
            f"(logs.search_api.max_highlight_clauses)"
        )

    def __call__(self, hit: dict[str, Any], engine: list[tuple[int, int]] | None = None) -> dict[str, Any]:
        """``engine``: the message spans the search engine marked itself (``SearchPage.highlights``), used
        instead of the query's own when given (the fields still come from the query)."""
        found = self._hl(hit["message"])
        spans, truncated = found.message, found.truncated
        if engine is not None:
            spans, truncated = engine[: self._max_spans], len(engine) > self._max_spans
        mark: dict[str, Any] = {"message": [list(s) for s in spans], "fields": found.fields}
        if truncated:
            mark["truncated"] = True
        hit["highlight"] = mark
        return hit


def search_body(
    store: SearchStore,
    args: SearchArgs,
    highlight: bool,
    limits: SearchApiConfig,
    scope: Scope = FOUNDATION,
) -> bytes:
    """The whole search response: query, highlights, encoding, byte budget; the store searches only what
    ``scope`` sees (the highlights mark the user's query, not the scope's filter).

    Hits are fetched :data:`SEARCH_CHUNK_HITS` at a time (each chunk continuing from the last one's cursor),
    so no more than one chunk of records is held beyond what the response keeps."""
    q, start, end, limit, cursor = args
    mark = Marker(parse_query(q), limits) if highlight else None
    page = store.search(q, start, end, min(limit, SEARCH_CHUNK_HITS), cursor, scope=scope)
    total = page.total
    parts: list[orjson.Fragment] = []
    size, truncated, last = 0, False, None
    while True:
        engine = page.highlights or {}
        for r in page.hits:
            hit = hit_json(r)
            encoded = orjson.dumps(mark(hit, engine.get(r.id)) if mark is not None else hit)
            if parts and size + len(encoded) + 1 > limits.max_response_bytes:
                truncated = True
                break
            parts.append(orjson.Fragment(encoded))
            size += len(encoded) + 1
            last = r
        if truncated or page.next_cursor is None or len(parts) >= limit:
            break
        want = min(limit - len(parts), SEARCH_CHUNK_HITS)
        page = store.search(q, start, end, want, page.next_cursor, scope=scope)
    # stores page by the last hit's (timestamp, id): the cursor they would give for a page ending there
    next_cursor = encode_cursor(last) if truncated and last is not None else page.next_cursor
    warnings = [] if mark is None or mark.warning is None else [mark.warning]
    if truncated:
        warnings.append(
            f"{len(parts)} hits sent: the response reached logs.search_api.max_response_bytes "
            f"({limits.max_response_bytes}); next_cursor continues"
        )
    data = {"total": total, "hits": parts, "next_cursor": next_cursor, "truncated": truncated}
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = warnings
    return orjson.dumps(body)


def context_body(
    store: SearchStore,
    record_id: str,
    before: int,
    after: int,
    limits: SearchApiConfig,
    scope: Scope = FOUNDATION,
) -> bytes:
    """The context response: records nearest the hit first, alternately before and after it, while they
    fit in ``max_response_bytes`` (``truncated`` when some were left out); only records ``scope`` sees."""
    ctx = store.context(record_id, before, after, scope=scope)
    size = 0
    sides: tuple[list[orjson.Fragment], list[orjson.Fragment]] = ([], [])
    nearest = (list(reversed(ctx.before)), list(ctx.after))
    truncated = False
    for i in range(max(len(ctx.before), len(ctx.after))):
        for side, records in zip(sides, nearest, strict=True):
            if i >= len(records) or truncated:
                continue
            encoded = orjson.dumps(hit_json(records[i]))
            if size + len(encoded) + 1 > limits.max_response_bytes:
                truncated = True
                continue
            side.append(orjson.Fragment(encoded))
            size += len(encoded) + 1
    data = {
        "hit": hit_json(ctx.hit),
        "before": list(reversed(sides[0])),
        "after": sides[1],
        "truncated": truncated,
    }
    return orjson.dumps({"status": "success", "data": data})
