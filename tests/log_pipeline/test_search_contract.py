"""One contract suite over every SearchStore: ids like ``embedded:phrase_query``.

Each case states its expectation with a Python oracle over the dataset. The embedded store computes results
itself; the Elasticsearch store is driven by a replay server answering with documented ES response envelopes
filled with the oracle's records, and the case also checks the exact DSL the server received (request
translation) — the Elasticsearch backend is not verified against a live cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from prometheus_client import CollectorRegistry

from log_pipeline.model import LogRecord
from log_pipeline.search.base import Bucket, InvalidArgumentError, RecordNotFoundError, SearchStore
from log_pipeline.search.es_store import ElasticsearchStore, _source
from log_pipeline.search.query import QuerySyntaxError
from log_pipeline.search.tantivy_store import TantivyStore
from tests.fixtures.elasticsearch.replay import (
    ReplayServer,
    bulk_response,
    histogram_response,
    load,
    search_response,
)

T0 = 1_714_564_800 * 10**9  # 2024-05-01T12:00:00Z
S = 10**9


def _dataset() -> list[LogRecord]:
    recs = []
    for i in range(24):
        app = "checkout" if i % 2 else "cart"
        status = [200, 200, 404, 500, 503, 200][i % 6]
        level = "error" if status >= 500 else "info"
        msg = (
            f"GET /orders/{i} {status} took {i}ms" if i % 4 else f"connection refused by db-{i % 3} retrying"
        )
        recs.append(
            LogRecord(
                id=f"r{i:03d}",
                timestamp_ns=T0 + (i // 2) * 60 * S,  # pairs share a timestamp: ties broken by id
                message=msg,
                labels={"app": app, "instance": str(i % 2 and 1), "level": level, "host": "cell-1"},
                fields={"status": status, "method": "GET", "path": f"/orders/{i}", "response_time_s": i / 10},
            )
        )
    return recs


DATA = _dataset()


def newest_first(recs: list[LogRecord]) -> list[LogRecord]:
    return sorted(recs, key=lambda r: (r.timestamp_ns, r.id), reverse=True)


@dataclass
class Harness:
    backend: str
    store: SearchStore
    replay: ReplayServer | None

    def prime_search(self, oracle: list[LogRecord], limit: int) -> None:
        if self.replay is not None:
            srcs = [_source(r) for r in newest_first(oracle)]
            self.replay.expect(
                "POST", r"/paramedic-logs-\*/_search", search_response(srcs[: limit + 1], len(oracle))
            )

    def last_body(self) -> dict[str, Any]:
        assert self.replay is not None
        return self.replay.requests[-1].json()


@pytest.fixture
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    backend = request.param
    if backend == "embedded":
        store = TantivyStore(tmp_path / "idx", partition_s=3600, registry=CollectorRegistry())
        store.write(DATA)
        yield Harness(backend, store, None)
        store.close()
        return
    replay = ReplayServer().start()
    replay.expect("PUT", "/_index_template/paramedic-logs", load("put_index_template.json"))
    replay.expect("PUT", "/_bulk", bulk_response([(r.id, "paramedic-logs-2024.05.01") for r in DATA]))
    replay.expect("POST", "/_bulk", bulk_response([(r.id, "paramedic-logs-2024.05.01") for r in DATA]))
    client = Elasticsearch(replay.url, request_timeout=5)
    es = ElasticsearchStore(client, registry=CollectorRegistry(), initial_backoff_s=0.01)
    es.install_template()
    es.write(DATA)
    yield Harness(backend, es, replay)
    es.close()
    replay.stop()


def ids(recs: list[LogRecord]) -> list[str]:
    return [r.id for r in recs]


def check_query(
    h: Harness, q: str, pred: Callable[[LogRecord], bool], dsl: dict[str, Any], limit: int = 50
) -> None:
    oracle = [r for r in DATA if pred(r)]
    h.prime_search(oracle, limit)
    page = h.store.search(q, None, None, limit)
    assert ids(page.hits) == ids(newest_first(oracle))[:limit]
    assert page.total == len(oracle)
    if h.replay is not None:
        assert h.last_body()["query"] == dsl


def case_phrase_query(h: Harness) -> None:
    check_query(
        h,
        '"connection refused"',
        lambda r: "connection refused" in r.message,
        {"match_phrase": {"message": "connection refused"}},
    )


def case_bare_terms_implicit_and(h: Harness) -> None:
    check_query(
        h,
        "took 500",
        lambda r: "took" in r.message and " 500 " in r.message,
        {"bool": {"filter": [{"match": {"message": "took"}}, {"match": {"message": "500"}}]}},
    )


def case_label_filters(h: Harness) -> None:
    check_query(
        h,
        "app:checkout level:error",
        lambda r: r.labels["app"] == "checkout" and r.labels["level"] == "error",
        {"bool": {"filter": [{"term": {"labels.app": "checkout"}}, {"term": {"labels.level": "error"}}]}},
    )


def case_range_query(h: Harness) -> None:
    check_query(
        h,
        "status:[500 TO 599]",
        lambda r: 500 <= int(r.fields["status"]) <= 599,
        {"range": {"fields.status": {"gte": 500, "lte": 599}}},
    )


def case_comparison_and_exclusive_range(h: Harness) -> None:
    check_query(
        h,
        "response_time_s:>=1.5 AND status:{200 TO 600}",
        lambda r: float(r.fields["response_time_s"]) >= 1.5 and 200 < int(r.fields["status"]) < 600,
        {
            "bool": {
                "filter": [
                    {"range": {"fields.response_time_s": {"gte": 1.5}}},
                    {"range": {"fields.status": {"gt": 200, "lt": 600}}},
                ]
            }
        },
    )


def case_or_not_parentheses(h: Harness) -> None:
    check_query(
        h,
        "(status:404 OR status:503) NOT app:cart",
        lambda r: r.fields["status"] in (404, 503) and r.labels["app"] != "cart",
        {
            "bool": {
                "filter": [
                    {
                        "bool": {
                            "should": [
                                {"term": {"fields.status": "404"}},
                                {"term": {"fields.status": "503"}},
                            ],
                            "minimum_should_match": 1,
                        }
                    }
                ],
                "must_not": [{"term": {"labels.app": "cart"}}],
            }
        },
    )


def case_wildcard(h: Harness) -> None:
    check_query(
        h,
        "path:/orders/1* AND refus*",
        lambda r: str(r.fields["path"]).startswith("/orders/1") and "refused" in r.message,
        {
            "bool": {
                "filter": [
                    {"wildcard": {"fields.path": {"value": "/orders/1*"}}},
                    {"wildcard": {"message": {"value": "refus*"}}},
                ]
            }
        },
    )


def case_time_range(h: Harness) -> None:
    lo, hi = T0 + 3 * 60 * S, T0 + 5 * 60 * S
    oracle = [r for r in DATA if lo <= r.timestamp_ns <= hi]
    h.prime_search(oracle, 50)
    page = h.store.search("", lo, hi, 50)
    assert ids(page.hits) == ids(newest_first(oracle))
    if h.replay is not None:
        assert h.last_body()["query"] == {
            "bool": {"filter": [{"match_all": {}}, {"range": {"ts_ns": {"gte": lo, "lte": hi}}}]}
        }


def case_time_range_beyond_int64(h: Harness) -> None:
    """Bounds wider than int64 nanoseconds (the API passes on any integer) select like the widest range."""
    h.prime_search(DATA, 50)
    page = h.store.search("", -(10**30), 10**30, 50)
    assert ids(page.hits) == ids(newest_first(DATA))[:50]
    if h.replay is not None:
        assert h.last_body()["query"] == {
            "bool": {"filter": [{"match_all": {}}, {"range": {"ts_ns": {"gte": -(2**63), "lte": 2**63 - 1}}}]}
        }


def case_cursor_pagination(h: Harness) -> None:
    expected = ids(newest_first(DATA))
    seen: list[str] = []
    cursor = None
    while True:
        rest = [r for r in newest_first(DATA) if r.id not in seen]
        h.prime_search(rest, 5)
        page = h.store.search("", None, None, 5, cursor)
        seen += ids(page.hits)
        if h.replay is not None and cursor is not None:
            last = next(r for r in DATA if r.id == seen[-len(page.hits) - 1])
            assert h.last_body()["search_after"] == [last.timestamp_ns, last.id]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected


def case_histogram(h: Harness) -> None:
    step = 5 * 60 * S
    end = T0 + 20 * 60 * S
    counts = [0] * 5
    for r in DATA:
        if r.labels["level"] == "error":
            counts[(r.timestamp_ns - T0) // step] += 1
    if h.replay is not None:
        h.replay.expect(
            "POST",
            r"/paramedic-logs-\*/_search",
            histogram_response([((T0 + i * step) // 10**6, c) for i, c in enumerate(counts) if c]),
        )
    buckets = h.store.histogram("level:error", T0, end, step)
    assert buckets == [Bucket(T0 + i * step, c) for i, c in enumerate(counts)]
    if h.replay is not None:
        body = h.last_body()
        assert body["aggs"]["h"]["date_histogram"] == {
            "field": "@timestamp",
            "fixed_interval": "300000ms",
            "offset": "0ms",
            "min_doc_count": 1,
        }
        assert body["size"] == 0


def case_histogram_beyond_rfc3339_years(h: Harness) -> None:
    """Bucket times must be printable (years 0001-9999): a window outside is a bad argument, not a crash."""
    day = 86_400 * S
    year_1 = -62_135_596_800 * S
    year_10000 = 253_402_300_800 * S
    for start, end in [(year_1 - day, year_1 + day), (year_10000 - day, year_10000 + day), (-(10**30), 0)]:
        with pytest.raises(InvalidArgumentError, match="years 0001 to 9999"):
            h.store.histogram("level:error", start, end, day)


def case_context(h: Harness) -> None:
    hit = next(r for r in DATA if r.id == "r011")  # app checkout, instance 1
    same = newest_first([r for r in DATA if r.labels["app"] == "checkout" and r.labels["instance"] == "1"])
    older = [r for r in same if (r.timestamp_ns, r.id) < (hit.timestamp_ns, hit.id)][:2]
    newer = sorted(
        [r for r in same if (r.timestamp_ns, r.id) > (hit.timestamp_ns, hit.id)],
        key=lambda r: (r.timestamp_ns, r.id),
    )[:3]
    if h.replay is not None:
        h.replay.expect("POST", r"/paramedic-logs-\*/_search", search_response([_source(hit)], 1))
        h.replay.expect(
            "POST", r"/paramedic-logs-\*/_search", search_response([_source(r) for r in older], 5)
        )
        h.replay.expect(
            "POST", r"/paramedic-logs-\*/_search", search_response([_source(r) for r in newer], 6)
        )
    ctx = h.store.context("r011", 2, 3)
    assert ctx.hit.id == "r011"
    assert ctx.hit.fields == hit.fields and ctx.hit.labels == hit.labels
    assert ids(ctx.before) == ids(older[::-1])
    assert ids(ctx.after) == ids(newer)
    if h.replay is not None:
        after_body = h.last_body()
        assert after_body["sort"] == [{"ts_ns": {"order": "asc"}}, {"id": {"order": "asc"}}]
        assert after_body["search_after"] == [hit.timestamp_ns, hit.id]
        assert after_body["query"] == {
            "bool": {"filter": [{"term": {"labels.app": "checkout"}}, {"term": {"labels.instance": "1"}}]}
        }


def case_context_unknown_id(h: Harness) -> None:
    h.prime_search([], 1)
    with pytest.raises(RecordNotFoundError):
        h.store.context("nope", 1, 1)


def case_upsert_by_id(h: Harness) -> None:
    changed = LogRecord("r003", DATA[3].timestamp_ns, "rewritten line", dict(DATA[3].labels), {"status": 201})
    if h.replay is not None:
        h.replay.expect("PUT", "/_bulk", bulk_response([("r003", "paramedic-logs-2024.05.01")], status=200))
    h.store.write([changed])
    oracle = [changed]
    h.prime_search(oracle, 10)
    page = h.store.search("rewritten", None, None, 10)
    assert ids(page.hits) == ["r003"] and page.hits[0].fields == {"status": 201}
    h.prime_search([r for r in DATA if r.id != "r003"] + [changed], 100)
    assert h.store.search("", None, None, 100).total == len(DATA)
    if h.replay is not None:
        bulk = next(r for r in reversed(h.replay.requests) if r.path == "/_bulk")
        action, source = bulk.ndjson()
        assert action == {"index": {"_index": "paramedic-logs-2024.05.01", "_id": "r003"}}
        assert (
            source["message"] == "rewritten line" and source["@timestamp"] == "2024-05-01T12:01:00.000000000Z"
        )
        assert "refresh=wait_for" in bulk.query


def case_bad_query(h: Harness) -> None:
    for q, col in [("(app:cart", 10), ("status:[1 TO", 13), ('"open', 1), ("app:", 5)]:
        with pytest.raises(QuerySyntaxError) as err:
            h.store.search(q, None, None, 10)
        assert err.value.column == col, (q, str(err.value))


CASES: dict[str, Callable[[Harness], None]] = {
    name[5:]: fn for name, fn in globals().items() if name.startswith("case_") and callable(fn)
}
BACKENDS = ["embedded", "elasticsearch"]


@pytest.mark.parametrize(
    ("harness", "case"),
    [(b, c) for b in BACKENDS for c in CASES],
    ids=[f"{b}:{c}" for b in BACKENDS for c in CASES],
    indirect=["harness"],
)
def test_contract(harness: Harness, case: str) -> None:
    CASES[case](harness)
