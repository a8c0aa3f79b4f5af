"""The ``elasticsearch`` store on the live OpenSearch cluster, beyond the contract suite: highlights served by
the engine, retention of daily indices, and backpressure into the spool while the engine is unreachable."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from opensearchpy import OpenSearch
from prometheus_client import CollectorRegistry

from log_pipeline.config import LogsConfig, SearchApiConfig
from log_pipeline.model import LogRecord, RawMessage
from log_pipeline.pipeline import PipelineMetrics, Stage, build_pipeline
from log_pipeline.receivers import SpoolConsumer
from log_pipeline.search.base import SearchError, SearchStore
from log_pipeline.search.config import ElasticsearchSearchConfig
from log_pipeline.search.es_store import ElasticsearchStore
from log_pipeline.search.factory import open_search_store
from log_pipeline.search.highlight import highlight
from log_pipeline.search.opensearch_cluster import OpenSearchCluster
from log_pipeline.search.os_client import OpenSearchClient
from log_pipeline.search.query import parse_query
from log_pipeline.search.render import search_body
from log_pipeline.spool import FileSpool
from log_pipeline.syslog import SyslogParser
from paramedic.logs import LogService
from platforms.local.state import free_port
from tests.log_pipeline.conftest import opensearch_store
from tests.support.servers import wait_until

pytestmark = pytest.mark.opensearch

S = 10**9
DAY = 86_400
NOW = 1_764_979_200  # 2025-12-06T00:00:00Z: the store's clock in the retention test


@pytest.fixture(scope="module")
def store(live_opensearch: OpenSearchCluster) -> Iterator[ElasticsearchStore]:
    s = opensearch_store(live_opensearch, "live-logs")
    yield s
    s.close()


def test_highlights_come_from_the_engine_and_agree_with_the_query(store: ElasticsearchStore) -> None:
    messages = [
        "connection refused by db-1 retrying",
        "GET /orders/7 took 12ms",
        "db-2 connection refused, retrying in 5s",
        "naïve café connection refused",  # spans count code points, not bytes
    ]
    store.write([LogRecord(f"h{i}", NOW * S + i, m) for i, m in enumerate(messages)])
    q = "refused OR took"
    page = store.search(q, None, None, 10)
    assert page.highlights is not None and page.total == 4
    node = parse_query(q)
    for rec in page.hits:
        expected = highlight(node, rec.message).message
        assert page.highlights[rec.id] == expected, rec.message
        assert all(rec.message[s:e].lower() in ("refused", "took") for s, e in expected)
    # the API's search response carries them (here with a one-span budget: truncated like its own)
    limits = SearchApiConfig(max_highlight_spans=1)
    store.write([LogRecord("h9", NOW * S + 9, "refused refused took")])
    body = orjson.loads(search_body(store, ("took", None, None, 10, None), True, limits))
    hit = next(h for h in body["data"]["hits"] if h["id"] == "h9")
    assert hit["highlight"] == {"message": [[16, 20]], "fields": []}
    body = orjson.loads(search_body(store, ("refused", None, None, 10, None), True, limits))
    hit = next(h for h in body["data"]["hits"] if h["id"] == "h9")
    assert hit["highlight"] == {"message": [[0, 7]], "fields": [], "truncated": True}


def test_retention_deletes_daily_indices_past_it(live_opensearch: OpenSearchCluster) -> None:
    store = opensearch_store(live_opensearch, "retention-logs", retention_s=7 * DAY, clock=lambda: NOW)
    try:
        ages = [30, 9, 8, 7, 1, 0]  # days before NOW
        store.write([LogRecord(f"d{a}", (NOW - a * DAY) * S + 3600 * S, f"day {a}") for a in ages])
        dropped = store.apply_retention()
        # an index goes once its whole day is at least the retention old: 2025-11-28 ended 7 d before NOW
        assert dropped == [
            "retention-logs-2025.11.06",
            "retention-logs-2025.11.27",
            "retention-logs-2025.11.28",
        ]
        left = sorted(r.id for r in store.search("", None, None, 100).hits)
        assert left == ["d0", "d1", "d7"]
        assert store.apply_retention() == []
    finally:
        store.close()


def test_engine_down_keeps_the_batch_in_the_spool(tmp_path: Path, live_opensearch: OpenSearchCluster) -> None:
    spool = FileSpool(tmp_path / "spool")
    line = b"<14>1 2025-12-06T00:00:00.000000Z cell-1 app - - - kept while the engine is away"
    spool.append([RawMessage(line, 0, "relp", "127.0.0.1:1")])

    parser = SyslogParser(registry=CollectorRegistry())

    def consumer(store: ElasticsearchStore) -> SpoolConsumer:
        metrics = PipelineMetrics(CollectorRegistry())
        process = build_pipeline(parser, [Stage("store", "sink", store.write)], metrics=metrics)
        return SpoolConsumer(spool, process)

    down = OpenSearch(hosts=[f"http://127.0.0.1:{free_port()}"], timeout=2, max_retries=0)
    unreachable = ElasticsearchStore(
        OpenSearchClient(down), index_prefix="spool-logs", registry=CollectorRegistry(), sleep=lambda _: None
    )
    with pytest.raises(SearchError, match="Connection refused"):
        consumer(unreachable).run_once()
    assert spool.committed_seq == 0 and spool.last_seq == 1  # not committed: the spool keeps it
    up = opensearch_store(live_opensearch, "spool-logs")
    try:
        assert consumer(up).run_once() == 1
        assert spool.committed_seq == 1
        assert [r.message for r in up.search("engine", None, None, 10).hits] == [
            "kept while the engine is away"
        ]
    finally:
        up.close()
        spool.close()


def test_factory_builds_the_opensearch_store_from_config(
    tmp_path: Path, live_opensearch: OpenSearchCluster
) -> None:
    cfg = LogsConfig.model_validate(
        {
            "search": {
                "type": "elasticsearch",
                "engine": "opensearch",
                "hosts": live_opensearch.urls,
                "index_prefix": "factory-logs",
                "number_of_shards": 2,
                "number_of_replicas": 1,
                "retention_s": 30 * DAY,
            }
        }
    )
    assert isinstance(cfg.search, ElasticsearchSearchConfig)
    store = open_search_store(cfg.search, tmp_path, CollectorRegistry())
    try:
        assert isinstance(store, ElasticsearchStore) and store.engine == "opensearch"
        store.write([LogRecord("f1", NOW * S, "built from the config")])
        assert ids_of(store.search("config", None, None, 10).hits) == ["f1"]
        index = OpenSearch(hosts=live_opensearch.urls).indices.get_settings(index="factory-logs-*")
        settings = next(iter(index.values()))["settings"]["index"]
        assert (settings["number_of_shards"], settings["number_of_replicas"]) == ("2", "1")
    finally:
        store.close()


def ids_of(records: list[LogRecord]) -> list[str]:
    return [r.id for r in records]


async def test_log_service_on_opensearch_ingests_and_applies_retention(
    tmp_path: Path, live_opensearch: OpenSearchCluster
) -> None:
    """``paramedic serve``'s log service on the engine: a RELP line becomes searchable, and the retention
    timer deletes a daily index past ``retention_s`` (OpenSearch has no ISM here: Paramedic does it)."""
    old = opensearch_store(live_opensearch, "service-logs")
    old.write([LogRecord("old", 1_714_564_800 * S, "from 2024")])
    cfg = LogsConfig.model_validate(
        {
            "relp": {"port": 0},
            "syslog_tcp": None,
            "syslog_udp": None,
            "spool": {"path": "spool"},
            "search": {
                "type": "elasticsearch",
                "engine": "opensearch",
                "hosts": live_opensearch.urls,
                "index_prefix": "service-logs",
                "retention_s": DAY,
                "retention_interval_s": 0.2,
            },
        }
    )
    service = LogService(cfg, base_dir=tmp_path, appender=None, registry=CollectorRegistry())
    await service.start()
    try:
        line = (
            f"<14>1 {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} cell-1 app - - - through the service"
        )
        await asyncio.to_thread(_relp_send, service.receivers.ports["relp"], line.encode())
        # committed = the store's write returned: from then on every copy answers with the line (before,
        # a search may see it on the primary and not yet on the replica: the write is still in flight)
        spool = service.spool
        await asyncio.to_thread(wait_until, lambda: spool.committed_seq >= 1, 60, "the line to be committed")
        await asyncio.to_thread(wait_until, lambda: _total(old, "2024") == 0, 60, "retention to drop 2024")
        assert [_total(service.store, q) for q in ["service", "", "", "", "service", ""]] == [1] * 6
    finally:
        await service.stop()
        old.close()


def _total(store: SearchStore, q: str) -> int | None:
    """None while a search fails (an index being deleted by retention answers 503 for a moment)."""
    try:
        return store.search(q, None, None, 5).total
    except SearchError:
        return None


def _relp_send(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        offer = b"relp_version=0\nrelp_software=t,1\ncommands=syslog"
        sock.sendall(b"1 open %d %s\n" % (len(offer), offer))
        sock.sendall(b"2 syslog %d %s\n" % (len(data), data))
        buf = b""
        while b"2 rsp 6 200 OK\n" not in buf:
            chunk = sock.recv(4096)
            assert chunk, buf
            buf += chunk
