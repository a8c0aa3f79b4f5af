"""Errors raised by the PromQL engine.

Hierarchy (every class is a :class:`QueryError`; each carries the Prometheus API ``error_type`` and the HTTP
status Prometheus answers with, so the HTTP layer never has to guess)::

    QueryError
    ├── QueryParseError          the query text is not valid PromQL             bad_data   400
    ├── UnsupportedError         valid PromQL this engine does not implement    bad_data   422
    ├── QueryExecutionError      evaluation failed (e.g. duplicate label sets)  execution  422
    │   └── TooManySamplesError  max_samples exceeded                           execution  422
    ├── QueryTimeoutError        the query ran past its deadline                timeout    503
    └── QueryStorageError        the Querier failed (StoreError chained)        internal   500
"""

from __future__ import annotations

__all__ = [
    "QueryError",
    "QueryExecutionError",
    "QueryParseError",
    "QueryStorageError",
    "QueryTimeoutError",
    "TooManySamplesError",
    "UnsupportedError",
]


class QueryError(Exception):
    """Base of every engine error."""

    error_type = "execution"
    http_status = 422


class QueryParseError(QueryError):
    """The query text does not parse."""

    error_type = "bad_data"
    http_status = 400


class UnsupportedError(QueryError):
    """Valid PromQL that this engine does not evaluate yet (never answered silently wrong)."""

    error_type = "bad_data"
    http_status = 422


class QueryExecutionError(QueryError):
    """Evaluation failed with Prometheus' runtime error (message spelled like Prometheus)."""


class TooManySamplesError(QueryExecutionError):
    def __init__(self) -> None:
        super().__init__("query processing would load too many samples into memory in query execution")


class QueryTimeoutError(QueryError):
    error_type = "timeout"
    http_status = 503

    def __init__(self) -> None:
        super().__init__("query timed out in expression evaluation")


class QueryStorageError(QueryError):
    """The Querier raised; the store's error is the ``__cause__``."""

    error_type = "internal"
    http_status = 500
