"""The ``elasticsearch`` search store: Elasticsearch or OpenSearch, one query builder (``_es_query``) and two
maintained clients behind :class:`~log_pipeline.search.engine.EngineClient` (``elasticsearch`` for
Elasticsearch, ``opensearch-py`` for OpenSearch). Verified live against a 3-node OpenSearch 2.19 cluster
(tests/log_pipeline/test_search_contract.py); against Elasticsearch only by documentation-derived shape
checks (tests/fixtures/elasticsearch/).

* Time-based indices ``<prefix>-YYYY.MM.DD`` (UTC day of the record's timestamp): a new index every day (the
  time rollover), and a record always lands in the same index, so a batch replayed from the spool upserts
  rather than duplicates (a size-triggered rollover alias would write a replay into a newer index). The index
  template for ``<prefix>-*`` (shards, replicas, mapping) is installed by :meth:`install_template`.
* Retention (``retention_s``): on Elasticsearch an ILM policy ``<prefix>-retention`` deletes an index that
  long after its creation; on OpenSearch (its ISM plugin is not on Maven Central) :meth:`apply_retention`
  — run by the log service on a timer — deletes every index whose day ended at least ``retention_s`` ago.
* Before the first write to a day's index, :meth:`write` creates it and waits (at most ``CREATE_WAIT_S``)
  for all its copies to start, so ``refresh=wait_for`` covers the replicas a search may be served by.
* :meth:`write` bulk-indexes with ``_id = record.id`` (upsert) and ``refresh=wait_for``: durable (translog,
  in-sync replicas) and searchable when it returns. Items the engine refuses for load (429/5xx) are retried
  with exponential backoff; when the engine stays busy or unreachable it raises, the pipeline does not commit
  the batch and the spool keeps it (backpressure: RELP acks only what the spool holds).
* Queries translate to DSL in ``_es_query``; the tenant scope is a ``bool.filter`` clause of the query the
  engine runs. Results sort by ``ts_ns`` then ``id`` (both descending); the cursor is ``search_after``. The
  histogram is the engine's ``date_histogram``; message highlights are the engine's
  (``SearchPage.highlights``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from log_pipeline.model import LogRecord
from log_pipeline.search import _es_highlight
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
from log_pipeline.search.engine import RETRYABLE_STATUSES, EngineClient, EngineError
from log_pipeline.search.query import FieldRef, Node, Term, parse_query
from log_pipeline.search.tenancy import restrict
from platforms.tenancy import FOUNDATION, Scope

__all__ = ["INDEX_TEMPLATE", "ElasticsearchStore"]

DAY_S = 86_400
CREATE_WAIT_S = 10.0  # longest wait for a new daily index's replicas (a degraded cluster writes without)

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
    """Server :class:`~log_pipeline.search.base.SearchStore` over an injected
    :class:`~log_pipeline.search.engine.EngineClient`."""

    def __init__(  # noqa: PLR0913 -- every option of the config section, keyword-only
        self,
        client: EngineClient,
        *,
        index_prefix: str = "paramedic-logs",
        shards: int = 1,
        replicas: int = 1,
        retention_s: int | None = None,
        chunk_size: int = 2000,
        max_retries: int = 5,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        registry: CollectorRegistry = REGISTRY,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._prefix = index_prefix
        self._shards, self._replicas = shards, replicas
        self._retention_s = retention_s
        self._chunk = chunk_size
        self._retries = max_retries
        self._backoff = initial_backoff_s
        self._max_backoff = max_backoff_s
        self._clock, self._sleep = clock, sleep
        self._created: set[str] = set()  # daily indices this store made sure of (all copies started)
        self._metrics = StoreMetrics(registry, "elasticsearch")
        self._retried = Counter(
            "paramedic_log_store_bulk_retries_total",
            "Bulk requests or items the engine refused for load or could not be reached for, tried again.",
            ["backend", "engine"],
            registry=registry,
        ).labels("elasticsearch", client.engine)

    @property
    def engine(self) -> str:
        return self._client.engine

    def _index_for(self, ns: int) -> str:
        day = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
        return f"{self._prefix}-{day:%Y.%m.%d}"

    def install_template(self) -> None:
        """The index template (and, on Elasticsearch with ``retention_s``, the ILM policy it names)."""
        settings: dict[str, Any] = dict(
            INDEX_TEMPLATE["template"]["settings"]["index"],
            number_of_shards=self._shards,
            number_of_replicas=self._replicas,
        )
        try:
            policy = f"{self._prefix}-retention"
            if self._retention_s is not None and self._client.put_lifecycle(policy, self._retention_s):
                settings["lifecycle"] = {"name": policy}
            template = dict(INDEX_TEMPLATE["template"], settings={"index": settings})
            body = dict(INDEX_TEMPLATE, template=template, index_patterns=[f"{self._prefix}-*"])
            self._client.put_index_template(self._prefix, body)
        except EngineError as exc:
            self._metrics.error("template")
            raise SearchError(f"cannot install index template {self._prefix!r}: {exc}") from exc

    # ---- writing -----------------------------------------------------------------------------------

    def _operations(self, records: Sequence[LogRecord]) -> list[dict[str, Any]]:
        ops: list[dict[str, Any]] = []
        for r in records:
            ops.append({"index": {"_index": self._index_for(r.timestamp_ns), "_id": r.id}})
            ops.append(_source(r))
        return ops

    def _pause(self, attempt: int) -> None:
        self._retried.inc()
        self._sleep(min(self._max_backoff, self._backoff * 2**attempt))

    def _bulk_once(self, records: Sequence[LogRecord]) -> list[LogRecord]:
        """One bulk request; the records to send again (refused for load). Raises on any other refusal."""
        resp = self._client.bulk(self._operations(records), refresh="wait_for")
        if not resp.get("errors"):
            return []
        items = resp.get("items") or []
        if len(items) != len(records):
            self._metrics.error("bulk_answer")
            raise SearchError(f"{self.engine} answered {len(items)} bulk items for {len(records)} records")
        again: list[LogRecord] = []
        for record, item in zip(records, items, strict=True):
            result = next(iter(item.values()))
            status = int(result.get("status", 500))
            if status in RETRYABLE_STATUSES:
                again.append(record)
            elif status >= 300:
                self._metrics.error("bulk_item")
                raise SearchError(f"{self.engine} rejected record {record.id!r}: {result.get('error')}")
        return again

    def _write_chunk(self, records: Sequence[LogRecord]) -> None:
        todo = list(records)
        for attempt in range(self._retries + 1):
            try:
                todo = self._bulk_once(todo)
            except EngineError as exc:
                if not exc.retryable or attempt == self._retries:
                    self._metrics.error("bulk")
                    raise SearchError(f"{self.engine} bulk write failed: {exc}") from exc
            else:
                if not todo:
                    return
                if attempt == self._retries:
                    break
            self._pause(attempt)
        self._metrics.error("bulk_busy")
        raise SearchError(
            f"{self.engine} kept refusing {len(todo)} records for load after {self._retries} retries"
        )

    def _ensure_indices(self, records: Sequence[LogRecord]) -> None:
        """Create a day's index before its first write and wait (bounded) for its replicas to start: a
        replica still in its first recovery when the write is refreshed could answer a search without it."""
        for name in sorted({self._index_for(r.timestamp_ns) for r in records} - self._created):
            try:
                self._client.create_index(name, CREATE_WAIT_S)
            except EngineError as exc:
                self._metrics.error("create_index")
                raise SearchError(f"{self.engine}: {exc}") from exc
            self._created.add(name)

    def write(self, records: Sequence[LogRecord]) -> None:
        self._ensure_indices(records)
        for i in range(0, len(records), self._chunk):
            self._write_chunk(records[i : i + self._chunk])
        self._metrics.written.inc(len(records))

    def apply_retention(self) -> list[str]:
        """Delete the indices whose day ended at least ``retention_s`` ago (Elasticsearch: ILM does it)."""
        if self._retention_s is None or self.engine == "elasticsearch":
            return []
        cutoff = datetime.fromtimestamp(self._clock() - self._retention_s - DAY_S, UTC)
        oldest_kept = f"{self._prefix}-{cutoff:%Y.%m.%d}"
        dropped: list[str] = []
        try:
            for name in self._client.indices(f"{self._prefix}-*"):
                day = name[len(self._prefix) + 1 :]
                if len(day) == len("YYYY.MM.DD") and day[:4].isdigit() and name <= oldest_kept:
                    self._client.delete_index(name)
                    self._created.discard(name)
                    self._metrics.dropped("retention")
                    dropped.append(name)
        except EngineError as exc:
            self._metrics.error("retention")
            raise SearchError(f"{self.engine} retention failed: {exc}") from exc
        return dropped

    def close(self) -> None:
        self._client.close()

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

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._client.search(f"{self._prefix}-*", body)
        except EngineError as exc:
            self._metrics.error("search")
            raise SearchError(f"{self.engine} search failed: {exc}") from exc

    def _page(
        self,
        query: dict[str, Any],
        limit: int,
        after: tuple[int, str] | None,
        *,
        descending: bool = True,
        highlights: dict[str, list[tuple[int, int]]] | None = None,
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
        if highlights is not None:
            body["highlight"] = _es_highlight.HIGHLIGHT
        resp = self._search(body)
        raw = resp["hits"]["hits"][:limit]
        hits = [_record(h["_source"]) for h in raw]
        if highlights is not None:
            for rec, h in zip(hits, raw, strict=True):
                marked = (h.get("highlight") or {}).get("message")
                if marked:
                    highlights[rec.id] = _es_highlight.spans(rec.message, str(marked[0]))
        return hits, len(resp["hits"]["hits"]) > limit, int(resp["hits"]["total"]["value"])

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
        marks: dict[str, list[tuple[int, int]]] = {}
        with self._metrics.query_seconds.time():
            hits, more, total = self._page(
                self._query(node, start_ns, end_ns), limit, after, highlights=marks
            )
        return SearchPage(total, hits, encode_cursor(hits[-1]) if more and hits else None, marks)

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
        body = {
            "query": self._query(node, start_ns, end_ns),
            "size": 0,
            "aggs": {"h": agg},
            "track_total_hits": False,
        }
        with self._metrics.query_seconds.time():
            resp = self._search(body)
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
