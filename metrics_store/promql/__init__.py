"""PromQL evaluation over a :class:`~metrics_store.base.Querier`.

Parsing is ``promql_parser``'s; evaluation evaluates every AST node once for all steps of a query (numpy,
``searchsorted`` per series), with Prometheus 2.42 semantics. Functions live in an explicit table
(:data:`FUNCTIONS`); anything not implemented fails with :class:`UnsupportedError`, never a wrong answer.

Every caller that parses PromQL text goes through :func:`parse` (or at least :func:`check_query_text` before
``promql_parser.parse``): the native parser overflows its stack, killing the process, on deeply nested or
very long texts, and the check refuses those before it sees them.
"""

from metrics_store.promql._ast import parse, parse_selector
from metrics_store.promql._context import slice_series
from metrics_store.promql._guard import check_query_text
from metrics_store.promql._prefetch import metric_names
from metrics_store.promql.engine import Engine
from metrics_store.promql.errors import (
    QueryError,
    QueryExecutionError,
    QueryParseError,
    QueryStorageError,
    QueryTimeoutError,
    QueryTimeRangeError,
    QueryTooComplexError,
    QueryTooLargeError,
    TooManyPointsError,
    TooManySamplesError,
    UnsupportedError,
)
from metrics_store.promql.functions import FUNCTIONS
from metrics_store.promql.values import Matrix, QueryValue, Sample, Scalar, Series, String, Vector

__all__ = [
    "FUNCTIONS",
    "Engine",
    "Matrix",
    "QueryError",
    "QueryExecutionError",
    "QueryParseError",
    "QueryStorageError",
    "QueryTimeRangeError",
    "QueryTimeoutError",
    "QueryTooComplexError",
    "QueryTooLargeError",
    "QueryValue",
    "Sample",
    "Scalar",
    "Series",
    "String",
    "TooManyPointsError",
    "TooManySamplesError",
    "UnsupportedError",
    "Vector",
    "check_query_text",
    "metric_names",
    "parse",
    "parse_selector",
    "slice_series",
]
