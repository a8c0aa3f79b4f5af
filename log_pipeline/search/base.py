"""The search store seam: a :class:`~log_pipeline.base.LogSink` that can also be searched.

Implementations: :class:`~log_pipeline.search.tantivy_store.TantivyStore` (embedded default) and
:class:`~log_pipeline.search.es_store.ElasticsearchStore` (Elasticsearch or OpenSearch); one contract suite
(``tests/log_pipeline/test_search_contract.py``) runs against both.

Ownership and threads: the pipeline owns the store and calls ``write`` from one thread; ``search``,
``histogram`` and ``context`` may run concurrently on other threads (the HTTP API's thread pool).
Results are newest first, ties broken by ``id`` descending, so a cursor is stable while new records arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from log_pipeline.base import LogPipelineError, LogSink
from log_pipeline.model import LogRecord
from platforms.tenancy import FOUNDATION, Scope

__all__ = [
    "BadCursorError",
    "Bucket",
    "Context",
    "InvalidArgumentError",
    "RecordNotFoundError",
    "SearchBusyError",
    "SearchError",
    "SearchPage",
    "SearchStore",
    "SearchTimeoutError",
]


class SearchError(LogPipelineError):
    """A search store failed (driver/IO errors are chained as ``__cause__``)."""


class RecordNotFoundError(SearchError):
    """``context`` was asked about an id the store does not hold."""


class InvalidArgumentError(SearchError):
    """A parameter the store cannot honour (e.g. a histogram step that is not whole milliseconds)."""


class BadCursorError(SearchError):
    """A cursor that this store did not produce."""


class SearchBusyError(SearchError):
    """Every search worker is busy and the line of waiting searches is full: try again later."""


class SearchTimeoutError(SearchError):
    """A search ran past its deadline and was stopped."""


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int  # records matching the query in [start, end], independent of the cursor
    hits: list[LogRecord]  # newest first
    next_cursor: str | None  # None on the last page
    # [start, end) code-point spans of the message the engine itself marked, by record id; None when the
    # store does not highlight (the API highlights from the query AST: log_pipeline.search.highlight)
    highlights: dict[str, list[tuple[int, int]]] | None = None


@dataclass(frozen=True, slots=True)
class Bucket:
    start_ns: int  # bucket covers [start_ns, start_ns + step)
    count: int


@dataclass(frozen=True, slots=True)
class Context:
    hit: LogRecord
    before: list[LogRecord]  # older records from the same source, oldest first
    after: list[LogRecord]  # newer records from the same source, oldest first


@runtime_checkable
class SearchStore(LogSink, Protocol):
    """Every read takes the reader's tenant ``scope`` (:mod:`log_pipeline.search.tenancy`): the store
    matches, counts and pages only the records the scope sees (the default, the foundation scope, sees
    all)."""

    def search(
        self,
        query: str,
        start_ns: int | None,
        end_ns: int | None,
        limit: int,
        cursor: str | None = None,
        *,
        scope: Scope = FOUNDATION,
    ) -> SearchPage:
        """Records matching ``query`` with ``start_ns <= timestamp <= end_ns`` (None: unbounded), newest
        first, at most ``limit``. Raises :class:`~log_pipeline.search.query.QuerySyntaxError`."""
        ...

    def histogram(
        self, query: str, start_ns: int, end_ns: int, step_ns: int, *, scope: Scope = FOUNDATION
    ) -> list[Bucket]:
        """Counts per bucket ``[start + k*step, start + (k+1)*step)`` covering ``[start, end]``, zeros
        included. ``step_ns`` is a whole number of milliseconds."""
        ...

    def context(self, record_id: str, before: int, after: int, *, scope: Scope = FOUNDATION) -> Context:
        """Up to ``before``/``after`` records around ``record_id`` from the same source (same ``org``,
        ``space``, ``app`` and ``instance`` labels, else the same ``host``), among those ``scope`` sees.
        Raises :class:`RecordNotFoundError`, also for a record ``scope`` does not see."""
        ...
