"""The :class:`~log_pipeline.search.engine.EngineClient` of Elasticsearch: its official ``elasticsearch``
client (8.x/9.x API: keyword bodies, ``ApiResponse.body``)."""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from log_pipeline.search.engine import EngineError, exists_already
from metrics_store.redact import redact_text

__all__ = ["ElasticsearchClient"]


def _error(what: str, exc: Exception) -> EngineError:
    status = exc.meta.status if isinstance(exc, ApiError) else None
    return EngineError(
        redact_text(f"elasticsearch {what} failed: {exc}"), status
    )  # hosts may hold credentials


class ElasticsearchClient:
    engine = "elasticsearch"

    def __init__(self, client: Elasticsearch) -> None:
        self._es = client

    def bulk(self, operations: list[dict[str, Any]], refresh: str) -> dict[str, Any]:
        try:
            return dict(self._es.bulk(operations=operations, refresh=refresh).body)
        except (ApiError, TransportError) as exc:
            raise _error("bulk", exc) from exc

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return dict(self._es.search(index=index, ignore_unavailable=True, **body).body)
        except (ApiError, TransportError) as exc:
            raise _error("search", exc) from exc

    def put_index_template(self, name: str, body: dict[str, Any]) -> None:
        try:
            self._es.indices.put_index_template(name=name, **body)
        except (ApiError, TransportError) as exc:
            raise _error(f"index template {name!r}", exc) from exc

    def create_index(self, name: str, timeout_s: float) -> None:
        try:
            self._es.indices.create(index=name, wait_for_active_shards="all", timeout=f"{timeout_s:g}s")
        except ApiError as exc:
            if not exists_already(exc.meta.status, exc.body):
                raise _error(f"creating index {name!r}", exc) from exc
        except TransportError as exc:
            raise _error(f"creating index {name!r}", exc) from exc

    def put_lifecycle(self, name: str, delete_after_s: int) -> bool:
        policy = {
            "phases": {
                "hot": {"actions": {}},
                "delete": {"min_age": f"{delete_after_s}s", "actions": {"delete": {}}},
            }
        }
        try:
            self._es.ilm.put_lifecycle(name=name, policy=policy)
        except (ApiError, TransportError) as exc:
            raise _error(f"ILM policy {name!r}", exc) from exc
        return True

    def indices(self, pattern: str) -> list[str]:
        try:
            resp = self._es.indices.get(index=pattern, ignore_unavailable=True, allow_no_indices=True)
        except (ApiError, TransportError) as exc:
            raise _error("index listing", exc) from exc
        return sorted(resp.body)

    def delete_index(self, name: str) -> None:
        try:
            self._es.indices.delete(index=name, ignore_unavailable=True)
        except (ApiError, TransportError) as exc:
            raise _error(f"deleting index {name!r}", exc) from exc

    def close(self) -> None:
        self._es.close()
