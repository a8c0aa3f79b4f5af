"""Search stores (embedded tantivy, Elasticsearch/OpenSearch), the query language and the live-tail hub."""

from log_pipeline.search.base import (
    BadCursorError,
    Bucket,
    Context,
    InvalidArgumentError,
    RecordNotFoundError,
    SearchBusyError,
    SearchError,
    SearchPage,
    SearchStore,
    SearchTimeoutError,
)
from log_pipeline.search.query import QuerySyntaxError, parse_query
from log_pipeline.search.tail import TailHub

__all__ = [
    "BadCursorError",
    "Bucket",
    "Context",
    "InvalidArgumentError",
    "QuerySyntaxError",
    "RecordNotFoundError",
    "SearchBusyError",
    "SearchError",
    "SearchPage",
    "SearchStore",
    "SearchTimeoutError",
    "TailHub",
    "parse_query",
]
