"""Documentation-derived shape checks of the Elasticsearch client half (``engine: elasticsearch``).

No Elasticsearch server runs on this project's machines. These checks drive the real ``elasticsearch``
client through :class:`~log_pipeline.search.es_client.ElasticsearchClient` against a local server answering
with the response bodies Elasticsearch's documentation shows (tests/fixtures/elasticsearch/, SOURCE.txt),
and check what is sent (paths, the ILM policy, index creation, bulk NDJSON) and that each documented shape
is read right (bulk item errors, a 429 retried, a 400 error, the date_histogram envelope). They prove the
wiring and the parsing, never search semantics: those are the contract suite's, live on OpenSearch
(tests/log_pipeline/test_search_contract.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch
from prometheus_client import CollectorRegistry

from log_pipeline.model import LogRecord
from log_pipeline.search.base import Bucket, SearchError
from log_pipeline.search.es_client import ElasticsearchClient
from log_pipeline.search.es_store import ElasticsearchStore
from tests.fixtures.elasticsearch.replay import ReplayServer, bulk_response, histogram_response, load

T0 = 1_714_564_800 * 10**9  # 2024-05-01T12:00:00Z
INDEX = "paramedic-logs-2024.05.01"
SEARCH = r"/paramedic-logs-\*/_search"


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    yield server
    server.stop()


def _store(replay: ReplayServer, **options: object) -> tuple[ElasticsearchStore, list[float]]:
    slept: list[float] = []
    client = ElasticsearchClient(Elasticsearch(replay.url, request_timeout=5, max_retries=0))
    store = ElasticsearchStore(
        client,
        registry=CollectorRegistry(),
        initial_backoff_s=0.01,
        sleep=slept.append,
        **options,  # type: ignore[arg-type]
    )
    return store, slept


def test_template_names_the_ilm_retention_policy(replay: ReplayServer) -> None:
    replay.expect("PUT", "/_ilm/policy/paramedic-logs-retention", load("put_index_template.json"))
    replay.expect("PUT", "/_index_template/paramedic-logs", load("put_index_template.json"))
    store, _ = _store(replay, retention_s=7 * 86_400, shards=3, replicas=2)
    store.install_template()
    policy, template = (r.json() for r in replay.requests)
    assert policy["policy"]["phases"]["delete"] == {"min_age": "604800s", "actions": {"delete": {}}}
    settings = template["template"]["settings"]["index"]
    assert settings["lifecycle"] == {"name": "paramedic-logs-retention"}
    assert (settings["number_of_shards"], settings["number_of_replicas"]) == (3, 2)
    assert template["index_patterns"] == ["paramedic-logs-*"]
    assert store.apply_retention() == []  # on Elasticsearch ILM deletes, not Paramedic


def test_a_new_days_index_is_created_with_all_copies_started_first(replay: ReplayServer) -> None:
    replay.expect("PUT", f"/{INDEX}", load("create_index.json"))
    replay.expect("PUT", "/_bulk", bulk_response([("r1", INDEX)]))
    replay.expect("PUT", "/_bulk", bulk_response([("r2", INDEX)]))
    store, _ = _store(replay)
    store.write([LogRecord("r1", T0, "one")])
    store.write([LogRecord("r2", T0 + 1, "two")])  # the index is known now: not created again
    assert [r.path for r in replay.requests] == [f"/{INDEX}", "/_bulk", "/_bulk"]
    assert "wait_for_active_shards=all" in replay.requests[0].query


def test_an_index_that_exists_already_is_no_error(replay: ReplayServer) -> None:
    replay.expect("PUT", f"/{INDEX}", load("index_exists.json"), status=400)
    replay.expect("PUT", "/_bulk", bulk_response([("r1", INDEX)]))
    store, _ = _store(replay)
    store.write([LogRecord("r1", T0, "one")])
    assert [r.path for r in replay.requests] == [f"/{INDEX}", "/_bulk"]


def test_bulk_item_refused_for_load_is_sent_again(replay: ReplayServer) -> None:
    record = LogRecord("r1", T0, "hello")
    replay.expect("PUT", f"/{INDEX}", load("create_index.json"))
    replay.expect("PUT", "/_bulk", bulk_response([("r1", INDEX)], status=429))
    replay.expect("PUT", "/_bulk", bulk_response([("r1", INDEX)]))
    store, slept = _store(replay)
    store.write([record])
    first, second = (r for r in replay.requests if r.path == "/_bulk")
    assert first.ndjson() == second.ndjson()
    action, source = first.ndjson()
    assert action == {"index": {"_index": INDEX, "_id": "r1"}} and source["message"] == "hello"
    assert "refresh=wait_for" in first.query
    assert slept == [0.01]


def test_bulk_refused_for_load_too_long_leaves_the_batch_to_the_spool(replay: ReplayServer) -> None:
    replay.expect("PUT", f"/{INDEX}", load("create_index.json"))
    for _ in range(3):
        replay.expect("PUT", "/_bulk", bulk_response([("r1", INDEX)], status=429))
    store, slept = _store(replay, max_retries=2)
    with pytest.raises(SearchError, match="kept refusing 1 records"):
        store.write([LogRecord("r1", T0, "hello")])
    assert slept == [0.01, 0.02]  # exponential backoff between the three tries


def test_documented_400_becomes_a_search_error(replay: ReplayServer) -> None:
    replay.expect("POST", SEARCH, load("search_parse_error.json"), status=400)
    store, _ = _store(replay)
    with pytest.raises(SearchError, match="parsing_exception"):
        store.search("app:x", None, None, 10)


def test_date_histogram_envelope_is_read_into_buckets(replay: ReplayServer) -> None:
    step = 60 * 10**9
    replay.expect("POST", SEARCH, histogram_response([(T0 // 10**6 + 60_000, 4)]))
    store, _ = _store(replay)
    assert store.histogram("", T0, T0 + 3 * step - 1, step) == [
        Bucket(T0, 0),
        Bucket(T0 + step, 4),
        Bucket(T0 + 2 * step, 0),
    ]
    agg = replay.requests[-1].json()["aggs"]["h"]["date_histogram"]
    assert agg["fixed_interval"] == "60000ms" and agg["field"] == "@timestamp"
