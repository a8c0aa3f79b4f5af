"""The :class:`~log_pipeline.search.engine.EngineClient` of OpenSearch: its maintained ``opensearch-py``
client (``body=`` requests, dict responses). Index retention: OpenSearch's ISM is a separate plugin that is
not published on Maven Central, so no engine-side policy is installed here; Paramedic deletes indices past
retention itself (``ElasticsearchStore.apply_retention``)."""

from __future__ import annotations

from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import OpenSearchException, TransportError

from log_pipeline.search.engine import EngineError, exists_already
from metrics_store.redact import redact_text

__all__ = ["OpenSearchClient"]


def _error(what: str, exc: Exception) -> EngineError:
    status = exc.status_code if isinstance(exc, TransportError) else None
    # opensearch-py reports "no answer" as TransportError with status "N/A"
    return EngineError(
        redact_text(f"opensearch {what} failed: {exc}"), status if isinstance(status, int) else None
    )


class OpenSearchClient:
    engine = "opensearch"

    def __init__(self, client: OpenSearch) -> None:
        self._os = client

    def bulk(self, operations: list[dict[str, Any]], refresh: str) -> dict[str, Any]:
        try:
            resp: dict[str, Any] = self._os.bulk(body=operations, params={"refresh": refresh})
        except OpenSearchException as exc:
            raise _error("bulk", exc) from exc
        return resp

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            resp: dict[str, Any] = self._os.search(
                index=index, body=body, params={"ignore_unavailable": "true"}
            )
        except OpenSearchException as exc:
            raise _error("search", exc) from exc
        return resp

    def put_index_template(self, name: str, body: dict[str, Any]) -> None:
        try:
            self._os.indices.put_index_template(name=name, body=body)
        except OpenSearchException as exc:
            raise _error(f"index template {name!r}", exc) from exc

    def create_index(self, name: str, timeout_s: float) -> None:
        try:
            # "timeout" is the engine's wait here; opensearch-py reads its own from "request_timeout" first
            params = {
                "wait_for_active_shards": "all",
                "timeout": f"{timeout_s:g}s",
                "request_timeout": timeout_s + 30,
            }
            self._os.indices.create(index=name, params=params)
        except TransportError as exc:
            if not (isinstance(exc.status_code, int) and exists_already(exc.status_code, exc.info)):
                raise _error(f"creating index {name!r}", exc) from exc
        except OpenSearchException as exc:
            raise _error(f"creating index {name!r}", exc) from exc

    def put_lifecycle(self, name: str, delete_after_s: int) -> bool:
        return False

    def indices(self, pattern: str) -> list[str]:
        try:
            resp = self._os.indices.get(
                index=pattern, params={"ignore_unavailable": "true", "allow_no_indices": "true"}
            )
        except OpenSearchException as exc:
            raise _error("index listing", exc) from exc
        return sorted(resp)

    def delete_index(self, name: str) -> None:
        try:
            self._os.indices.delete(index=name, params={"ignore_unavailable": "true"})
        except OpenSearchException as exc:
            raise _error(f"deleting index {name!r}", exc) from exc

    def close(self) -> None:
        self._os.close()
