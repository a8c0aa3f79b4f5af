"""Errors raised by the PromQL engine.

Hierarchy (every class is a :class:`QueryError`; each carries the Prometheus API ``error_type`` and the HTTP
status Prometheus answers with, so the HTTP layer never has to guess)::

    QueryError
    ├── QueryParseError          the query text is not valid PromQL                   bad_data   400
    │   └── QueryTooLargeError   too long, deep or many operators (checked unparsed)  bad_data   400
    ├── TooManyPointsError       range query over the points-per-series limit         bad_data   400
    ├── QueryTimeRangeError      a query time beyond ±2^62 ms (int64 arithmetic)      bad_data   400
    ├── UnsupportedError         valid PromQL this engine does not implement          bad_data   422
    ├── QueryExecutionError      evaluation failed (e.g. duplicate label sets)        execution  422
    │   ├── TooManySamplesError  max_samples exceeded (step grids: checked up front)  execution  422
    │   └── QueryTooComplexError the evaluator ran out of recursion depth             execution  422
    ├── QueryTimeoutError        the query ran past its deadline                      timeout    503
    ├── QueryBusyError           no room in the in-flight sample budget by the deadline unavailable 503
    ├── TenantLimitError         a tenant scope's share of a limit is used up        unavailable 429
    └── QueryStorageError        the Querier failed (StoreError chained)              internal   500
"""

from __future__ import annotations

__all__ = [
    "QueryBusyError",
    "QueryError",
    "QueryExecutionError",
    "QueryParseError",
    "QueryStorageError",
    "QueryTimeRangeError",
    "QueryTimeoutError",
    "QueryTooComplexError",
    "QueryTooLargeError",
    "TenantLimitError",
    "TooManyPointsError",
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


class QueryTooLargeError(QueryParseError):
    """The query text exceeds a size, nesting or operator limit (see ``_guard``); refused unparsed."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"parse error: {detail}")


class TooManyPointsError(QueryError):
    """A range query would return more than the allowed points per series (Prometheus: 11,000)."""

    error_type = "bad_data"
    http_status = 400

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"exceeded maximum resolution of {limit:,} points per timeseries. "
            "Try decreasing the query resolution (?step=XX)"
        )


class QueryTimeRangeError(QueryError):
    """A query's start, end or time is so far from 1970 that step arithmetic would overflow int64."""

    error_type = "bad_data"
    http_status = 400

    def __init__(self, time_ms: int) -> None:
        super().__init__(f"query time {time_ms / 1000:g} s is out of range")


class UnsupportedError(QueryError):
    """Valid PromQL that this engine does not evaluate yet (never answered silently wrong)."""

    error_type = "bad_data"
    http_status = 422


class QueryExecutionError(QueryError):
    """Evaluation failed with Prometheus' runtime error (message spelled like Prometheus)."""


class TooManySamplesError(QueryExecutionError):
    def __init__(self) -> None:
        super().__init__("query processing would load too many samples into memory in query execution")


class QueryTooComplexError(QueryExecutionError):
    """Evaluating the expression exhausted Python's recursion limit (``RecursionError`` chained)."""

    def __init__(self) -> None:
        super().__init__("query is too complex to evaluate: expression nesting is too deep")


class QueryTimeoutError(QueryError):
    error_type = "timeout"
    http_status = 503

    def __init__(self) -> None:
        super().__init__("query timed out in expression evaluation")


class QueryStorageError(QueryError):
    """The Querier raised; the store's error is the ``__cause__``."""

    error_type = "internal"
    http_status = 500


class QueryBusyError(QueryError):
    """The samples and steps of the queries in flight left no room for this one until its deadline
    (``metrics_store.query.max_inflight_samples``)."""

    error_type = "unavailable"
    http_status = 503

    def __init__(self) -> None:
        super().__init__(
            "query waited until its timeout for memory held by other queries (too many samples in flight)"
        )


class TenantLimitError(QueryError):
    """A query of a tenant scope (a principal scoped to orgs/spaces) does not fit in that scope's share of a
    limit; the message names the config key. 429: the tenant may retry once its other queries end."""

    error_type = "unavailable"
    http_status = 429

    def __init__(self, key: str, limit: int) -> None:
        super().__init__(
            f"tenant limit metrics_store.query.{key} ({limit:,}) reached by this scope's queries in flight; "
            "retry when they end"
        )
        self.key = key
