"""Elasticsearch search store via the official ``elasticsearch`` client (not verified against a live cluster:
tested against recorded responses replayed by a local HTTP server, see tests/fixtures/elasticsearch/).

* Daily indices ``<prefix>-YYYY.MM.DD`` (UTC of the record's timestamp); an index template for ``<prefix>-*``
  is installed by :meth:`ElasticsearchStore.install_template` (called at start).
* :meth:`write` bulk-indexes with ``_id = record.id`` (upsert) through ``helpers.streaming_bulk`` with retries
  and exponential backoff on 429, and ``refresh=wait_for`` so records are searchable when it returns (ES acks
  only after its translog is synced: durable).
* Queries translate to DSL in ``_es_query``; results sort by ``ts_ns`` then ``id`` (both descending), and the
  cursor is ES ``search_after``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError, helpers
from prometheus_client import REGISTRY, CollectorRegistry

from log_pipeline.model import LogRecord
from log_pipeline.search._common import (
    NS_PER_MS,
    check_histogram_args,
    clamp_ns,
    decode_cursor,
    encode_cursor,
    rfc3339_ns,
)
from log_pipeline.search._common import source_query as _source_query
from log_pipeline.search._es_query import to_es
from log_pipeline.search._metrics import StoreMetrics
from log_pipeline.search.base import Bucket, Context, RecordNotFoundError, SearchError, SearchPage
from log_pipeline.search.query import FieldRef, Node, Term, parse_query
from log_pipeline.search.tenancy import restrict
from metrics_store.redact import redact_text
from platforms.tenancy import FOUNDATION, Scope

__all__ = ["INDEX_TEMPLATE", "ElasticsearchStore"]

INDEX_TEMPLATE: dict[str, Any] = {
    "priority": 200,
    "template": {
        "settings": {"index": {"refresh_interval": "1s"}},
        "mappings": {
            "dynamic_templates": [
                {"labels": {"path_match": "labels.*", "mapping": {"type": "keyword"}}},
                {
                    "field_strings": {
                        "path_match": "fields.*",
                        "match_mapping_type": "string",
                        "mapping": {"type": "keyword", "ignore_above": 1024},
                    }
                },
            ],
            "properties": {
                "@timestamp": {"type": "date_nanos"},
                "ts_ns": {"type": "long"},
                "id": {"type": "keyword"},
                "message": {"type": "text"},
                "pattern_id": {"type": "keyword"},
                "template": {"type": "keyword", "index": False},
            },
        },
    },
}


def _source(r: LogRecord) -> dict[str, Any]:
    return {
        "@timestamp": rfc3339_ns(r.timestamp_ns),
        "ts_ns": r.timestamp_ns,
        "id": r.id,
        "message": r.message,
        "labels": r.labels,
        "fields": r.fields,
        "pattern_id": r.pattern_id,
        "template": r.template,
    }


def _record(src: dict[str, Any]) -> LogRecord:
    return LogRecord(
        id=str(src["id"]),
        timestamp_ns=int(src["ts_ns"]),
        message=str(src.get("message", "")),
        labels=dict(src.get("labels") or {}),
        fields=dict(src.get("fields") or {}),
        pattern_id=str(src.get("pattern_id", "")),
        template=str(src.get("template", "")),
    )


class ElasticsearchStore:
    """Server :class:`~log_pipeline.search.base.SearchStore`; ``client`` is injected (tests point it at a
    replay server)."""

    def __init__(
        self,
        client: Elasticsearch,
        *,
        index_prefix: str = "paramedic-logs",
        chunk_size: int = 2000,
        max_retries: int = 5,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._es = client
        self._prefix = index_prefix
        self._chunk = chunk_size
        self._retries = max_retries
        self._backoff = initial_backoff_s
        self._max_backoff = max_backoff_s
        self._metrics = StoreMetrics(registry, "elasticsearch")

    def _index_for(self, ns: int) -> str:
        day = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
        return f"{self._prefix}-{day:%Y.%m.%d}"

    def install_template(self) -> None:
        body = dict(INDEX_TEMPLATE, index_patterns=[f"{self._prefix}-*"])
        try:
            self._es.indices.put_index_template(name=self._prefix, **body)
        except (ApiError, TransportError) as exc:
            self._metrics.error("template")
            raise SearchError(
                redact_text(f"cannot install index template {self._prefix!r}: {exc}")
            ) from exc  # hosts may hold credentials

    # ---- writing -----------------------------------------------------------------------------------

    def _actions(self, records: Sequence[LogRecord]) -> Iterator[dict[str, Any]]:
        for r in records:
            yield {
                "_op_type": "index",
                "_index": self._index_for(r.timestamp_ns),
                "_id": r.id,
                "_source": _source(r),
            }

    def write(self, records: Sequence[LogRecord]) -> None:
        if not records:
            return
        try:
            for ok, item in helpers.streaming_bulk(
                self._es,
                self._actions(records),
                chunk_size=self._chunk,
                max_retries=self._retries,
                initial_backoff=self._backoff,
                max_backoff=self._max_backoff,
                raise_on_error=False,
                refresh="wait_for",
            ):
                if not ok:
                    self._metrics.error("bulk_item")
                    raise SearchError(f"elasticsearch rejected a record: {item}")
        except (ApiError, TransportError, helpers.BulkIndexError) as exc:
            self._metrics.error("bulk")
            raise SearchError(
                redact_text(f"elasticsearch bulk write failed: {exc}")
            ) from exc  # hosts may hold credentials
        self._metrics.written.inc(len(records))

    def close(self) -> None:
        self._es.close()

    # ---- reading -----------------------------------------------------------------------------------

    def _query(self, node: Node, start_ns: int | None, end_ns: int | None) -> dict[str, Any]:
        query = to_es(node)
        if start_ns is None and end_ns is None:
            return query
        rng: dict[str, int] = {}
        if start_ns is not None:
            rng["gte"] = start_ns
        if end_ns is not None:
            rng["lte"] = end_ns
        return {"bool": {"filter": [query, {"range": {"ts_ns": rng}}]}}

    def _search(self, **body: Any) -> dict[str, Any]:
        try:
            resp = self._es.search(index=f"{self._prefix}-*", ignore_unavailable=True, **body)
        except (ApiError, TransportError) as exc:
            self._metrics.error("search")
            raise SearchError(
                redact_text(f"elasticsearch search failed: {exc}")
            ) from exc  # hosts may hold credentials
        return dict(resp.body)

    def _page(
        self, query: dict[str, Any], limit: int, after: tuple[int, str] | None, *, descending: bool = True
    ) -> tuple[list[LogRecord], bool, int]:
        order = "desc" if descending else "asc"
        body: dict[str, Any] = {
            "query": query,
            "size": limit + 1,
            "sort": [{"ts_ns": {"order": order}}, {"id": {"order": order}}],
            "track_total_hits": True,
        }
        if after is not None:
            body["search_after"] = [after[0], after[1]]
        resp = self._search(**body)
        hits = [_record(h["_source"]) for h in resp["hits"]["hits"]]
        return hits[:limit], len(hits) > limit, int(resp["hits"]["total"]["value"])

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
        node = restrict(parse_query(query), scope)
        start_ns, end_ns = clamp_ns(start_ns), clamp_ns(end_ns)
        after = decode_cursor(cursor) if cursor else None
        with self._metrics.query_seconds.time():
            hits, more, total = self._page(self._query(node, start_ns, end_ns), limit, after)
        return SearchPage(total, hits, encode_cursor(hits[-1]) if more and hits else None)

    def histogram(
        self, query: str, start_ns: int, end_ns: int, step_ns: int, *, scope: Scope = FOUNDATION
    ) -> list[Bucket]:
        n = check_histogram_args(start_ns, end_ns, step_ns)
        node = restrict(parse_query(query), scope)
        step_ms, start_ms = step_ns // NS_PER_MS, start_ns // NS_PER_MS
        agg = {
            "date_histogram": {
                "field": "@timestamp",
                "fixed_interval": f"{step_ms}ms",
                "offset": f"{start_ms % step_ms}ms",
                "min_doc_count": 1,
            }
        }
        with self._metrics.query_seconds.time():
            resp = self._search(
                query=self._query(node, start_ns, end_ns), size=0, aggs={"h": agg}, track_total_hits=False
            )
        counts = [0] * n
        for b in resp["aggregations"]["h"]["buckets"]:
            k = (int(b["key"]) - start_ms) // step_ms
            if 0 <= k < n:
                counts[k] += int(b["doc_count"])
        return [Bucket(start_ns + i * step_ns, c) for i, c in enumerate(counts)]

    def context(self, record_id: str, before: int, after: int, *, scope: Scope = FOUNDATION) -> Context:
        with self._metrics.query_seconds.time():
            by_id = to_es(restrict(Term(FieldRef("id", "id"), record_id), scope))
            found, _, _ = self._page(by_id, 1, None)
            if not found:  # another tenant's record is not found either: its existence is not confirmed
                raise RecordNotFoundError(f"no record with id {record_id!r}")
            hit = found[0]
            src = to_es(restrict(_source_query(hit), scope))
            key = (hit.timestamp_ns, hit.id)
            older, _, _ = self._page(src, before, key)
            newer, _, _ = self._page(src, after, key, descending=False)
        return Context(hit, older[::-1], newer)
