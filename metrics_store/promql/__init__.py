"""PromQL evaluation over a :class:`~metrics_store.base.Querier`.

Parsing is ``promql_parser``'s; evaluation evaluates every AST node once for all steps of a query (numpy,
``searchsorted`` per series), with Prometheus 3's semantics or 2.42's (:mod:`metrics_store.promql.semantics`,
``Engine(..., semantics=)``, config section ``promql``). Functions live in an explicit table
(:data:`FUNCTIONS`); anything not implemented fails with :class:`UnsupportedError`, never a wrong answer.

Every caller that parses PromQL text goes through :func:`parse` (or :func:`format_query`): the native parser
overflows its stack, killing the process, on deeply nested or very long texts, and compiles every regex
matcher with Rust's regex while holding the GIL; :func:`parse` refuses the former and hands it placeholders
instead of patterns (:func:`unmask` turns text printed from its AST back into what was written).
:func:`check_query_text` alone is not enough before ``promql_parser.parse``.
"""

from metrics_store.promql._ast import (
    format_query,
    parse,
    parse_selector,
    selector_matchers,
    unmask,
    vector_selectors,
)
from metrics_store.promql._context import slice_series
from metrics_store.promql._guard import check_query_text
from metrics_store.promql._prefetch import metric_names
from metrics_store.promql.engine import Engine, SampleBudget
from metrics_store.promql.errors import (
    QueryBusyError,
    QueryError,
    QueryExecutionError,
    QueryParseError,
    QueryStorageError,
    QueryTimeoutError,
    QueryTimeRangeError,
    QueryTooComplexError,
    QueryTooLargeError,
    TenantLimitError,
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
    "QueryBusyError",
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
    "SampleBudget",
    "Scalar",
    "Series",
    "String",
    "TenantLimitError",
    "TooManyPointsError",
    "TooManySamplesError",
    "UnsupportedError",
    "Vector",
    "check_query_text",
    "format_query",
    "metric_names",
    "parse",
    "parse_selector",
    "selector_matchers",
    "slice_series",
    "unmask",
    "vector_selectors",
]
