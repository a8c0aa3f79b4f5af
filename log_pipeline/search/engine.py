"""The seam between :class:`~log_pipeline.search.es_store.ElasticsearchStore` and the maintained client of
each engine: ``elasticsearch`` for Elasticsearch (:mod:`log_pipeline.search.es_client`), ``opensearch-py``
for OpenSearch (:mod:`log_pipeline.search.os_client`; elasticsearch-py 8 refuses OpenSearch by its product
check). The store builds every request body (``_es_query`` translates the query AST) and reads every
response; an adapter only sends it with its client and turns the client's errors into :class:`EngineError`.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["RETRYABLE_STATUSES", "EngineClient", "EngineError", "exists_already"]

# a bulk item or request answered with one of these is tried again (the engine is busy or a shard moves)
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


class EngineError(Exception):
    """A request failed; ``status`` is the HTTP status, None when no engine answered (connection, timeout)."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE_STATUSES


def exists_already(status: int, body: object) -> bool:
    """The engine's answer to creating an index that exists (400 ``resource_already_exists_exception``)."""
    return status == 400 and "resource_already_exists_exception" in str(body)


class EngineClient(Protocol):
    engine: str  # "elasticsearch" | "opensearch"

    def bulk(self, operations: list[dict[str, Any]], refresh: str) -> dict[str, Any]:
        """``POST /_bulk`` (action/source pairs); the response body."""
        ...

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /<index>/_search`` with ``ignore_unavailable``; the response body."""
        ...

    def put_index_template(self, name: str, body: dict[str, Any]) -> None: ...

    def create_index(self, name: str, timeout_s: float) -> None:
        """Create ``name`` (from the template) and wait up to ``timeout_s`` for all its shard copies to
        start; an index that exists already is no error, nor is a copy that cannot start in time."""
        ...

    def put_lifecycle(self, name: str, delete_after_s: int) -> bool:
        """Install an engine-side retention policy deleting indices ``delete_after_s`` after creation (ILM);
        False when the engine has none to offer here (OpenSearch without its ISM plugin)."""
        ...

    def indices(self, pattern: str) -> list[str]:
        """Names of the indices matching ``pattern``."""
        ...

    def delete_index(self, name: str) -> None: ...

    def close(self) -> None: ...
