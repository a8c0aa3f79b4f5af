"""Limits of the log search API and the UDP receiver (issue 11 findings 5, 6, 8, 9): clauses per query,
clauses and spans used for highlighting, the search response byte budget, context size, anonymous live tails
per client address, the UDP queue's byte bound and datagram size."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from log_pipeline.api import SEARCH_CHUNK_HITS, logs_router
from log_pipeline.config import LogsConfig, SearchApiConfig
from log_pipeline.model import LogRecord, RawMessage
from log_pipeline.receivers._conn import Context, SyslogUdpReceiver
from log_pipeline.receivers._metrics import ReceiverMetrics
from log_pipeline.search.highlight import Highlighter
from log_pipeline.search.query import MAX_CLAUSES, QuerySyntaxError, parse_query
from log_pipeline.search.tail import TailHub, TailRefusedError
from log_pipeline.search.tantivy_store import TantivyStore

SEARCH = "/api/v1/logs/search"


def test_defaults() -> None:
    cfg = LogsConfig()
    api = cfg.search_api
    assert (api.max_response_bytes, api.max_highlight_clauses, api.max_highlight_spans) == (
        16 << 20,
        256,
        1024,
    )
    assert api.max_context_lines == 200
    assert cfg.syslog_udp is not None
    assert (cfg.syslog_udp.queue_bytes, cfg.syslog_udp.max_message_bytes) == (64 << 20, 65535)


def test_a_query_has_at_most_max_clauses_clauses() -> None:
    parse_query(" OR ".join(["b"] * MAX_CLAUSES))
    with pytest.raises(QuerySyntaxError, match=f"more than {MAX_CLAUSES} clauses"):
        parse_query(" OR ".join(["b"] * (MAX_CLAUSES + 1)))
    with pytest.raises(QuerySyntaxError, match="clauses"):  # ranges, phrases and field terms count too
        parse_query(" ".join(['status:[1 TO 2] "x y" app:z'] * (MAX_CLAUSES // 3 + 1)))


def test_highlighter_deduplicates_and_uses_the_first_clauses() -> None:
    hl = Highlighter(parse_query("a OR a OR b OR app:x OR app:x OR c"), max_clauses=3)
    assert (hl.clauses, hl.used, hl.limited) == (4, 3, True)
    msg = "a b c"
    found = hl(msg)
    assert [msg[s:e] for s, e in found.message] == ["a", "b"]  # c is past the limit
    assert found.fields == ["app"]
    assert not Highlighter(parse_query("a OR a OR b"), max_clauses=2).limited


def test_highlighter_caps_spans_per_message() -> None:
    found = Highlighter(parse_query("a"), max_spans=3)("a " * 100)
    assert found.message == [(0, 1), (2, 3), (4, 5)] and found.truncated
    assert not Highlighter(parse_query("a"), max_spans=3)("a a a").truncated


def test_many_clauses_over_long_messages_highlight_in_linear_time() -> None:
    """1,024 single-token terms over 60,000 tokens: one set lookup per token, not one pass per clause."""
    hl = Highlighter(parse_query(" OR ".join(f"w{i}" for i in range(MAX_CLAUSES))), max_clauses=MAX_CLAUSES)
    message = "w1 " * 60_000
    started = time.thread_time()  # CPU time of this thread: the machine's load does not count
    found = hl(message)
    assert time.thread_time() - started < 2.0
    assert len(found.message) == 1024 and found.truncated


def _records(n: int, size: int) -> list[LogRecord]:
    now = time.time_ns()  # read when the fixture is built: collection may be long before the test runs
    return [
        LogRecord(
            f"r{i:04d}", now - (n - i) * 10**6, f"alpha {i} " + "x" * size, {"app": "cart", "instance": "0"}
        )
        for i in range(n)
    ]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TantivyStore]:
    s = TantivyStore(tmp_path / "idx", registry=CollectorRegistry())
    s.write(_records(40, 1000))
    yield s
    s.close()


def _client(store: TantivyStore, limits: SearchApiConfig, hub: TailHub | None = None) -> TestClient:
    app = FastAPI()
    app.include_router(logs_router(store, None, hub, limits=limits))
    return TestClient(app)


def test_search_response_stops_at_the_byte_budget_and_the_cursor_continues(store: TantivyStore) -> None:
    client = _client(store, SearchApiConfig(max_response_bytes=10_000))
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"q": "alpha", "limit": "100", "highlight": "true"} | ({"cursor": cursor} if cursor else {})
        r = client.get(SEARCH, params=params)
        assert r.status_code == 200
        assert len(r.content) < 10_000 + 2_000  # the hits within the budget, plus the envelope
        body = r.json()
        data = body["data"]
        assert data["total"] == 40
        seen += [h["id"] for h in data["hits"]]
        pages += 1
        cursor = data["next_cursor"]
        if cursor is None:
            assert not data["truncated"]
            break
        assert data["truncated"] and "max_response_bytes" in body["warnings"][0]
    assert pages > 3
    assert seen == [f"r{i:04d}" for i in reversed(range(40))]  # each hit once, in order


def test_a_search_over_several_store_chunks_is_one_page(tmp_path: Path) -> None:
    s = TantivyStore(tmp_path / "chunks", registry=CollectorRegistry())
    try:
        s.write(_records(2 * SEARCH_CHUNK_HITS + 50, 10))
        client = _client(s, SearchApiConfig())
        data = client.get(SEARCH, params={"q": "alpha", "limit": str(SEARCH_CHUNK_HITS + 10)}).json()["data"]
        ids = [h["id"] for h in data["hits"]]
        assert data["total"] == 2 * SEARCH_CHUNK_HITS + 50 and not data["truncated"]
        assert ids == [
            f"r{i:04d}" for i in reversed(range(SEARCH_CHUNK_HITS + 40, 2 * SEARCH_CHUNK_HITS + 50))
        ]
        rest = client.get(SEARCH, params={"q": "alpha", "limit": "10000", "cursor": data["next_cursor"]})
        more = [h["id"] for h in rest.json()["data"]["hits"]]
        assert more == [f"r{i:04d}" for i in reversed(range(SEARCH_CHUNK_HITS + 40))]
        assert rest.json()["data"]["next_cursor"] is None
    finally:
        s.close()


def test_one_hit_is_sent_even_over_the_budget(store: TantivyStore) -> None:
    data = (
        _client(store, SearchApiConfig(max_response_bytes=10))
        .get(SEARCH, params={"q": "alpha"})
        .json()["data"]
    )
    assert len(data["hits"]) == 1 and data["truncated"] and data["next_cursor"]


def test_search_warns_when_highlighting_uses_only_some_clauses(store: TantivyStore) -> None:
    client = _client(store, SearchApiConfig(max_highlight_clauses=2, max_highlight_spans=1))
    q = "alpha OR 39 OR nothing OR never"  # the newest hit: "alpha 39 xxx…"
    body = client.get(SEARCH, params={"q": q, "highlight": "true", "limit": "1"}).json()
    assert body["warnings"] == [
        "highlighting used the first 2 of the query's 4 distinct clauses "
        "(logs.search_api.max_highlight_clauses)"
    ]
    [hit] = body["data"]["hits"]
    assert hit["highlight"]["message"] == [[0, 5]] and hit["highlight"]["truncated"] is True
    assert "warnings" not in client.get(SEARCH, params={"q": "alpha", "highlight": "true"}).json()


def test_a_query_over_the_clause_cap_is_a_400(store: TantivyStore) -> None:
    r = _client(store, SearchApiConfig()).get(
        SEARCH, params={"q": " OR ".join(["b"] * (MAX_CLAUSES + 1)), "highlight": "true"}
    )
    assert r.status_code == 400 and r.json()["errorType"] == "bad_data" and "clauses" in r.json()["error"]


def test_context_lines_are_capped(store: TantivyStore) -> None:
    client = _client(store, SearchApiConfig(max_context_lines=5))
    r = client.get("/api/v1/logs/context", params={"id": "r0020", "before": "6"})
    assert r.status_code == 400 and "between 0 and 5" in r.json()["error"]
    data = client.get("/api/v1/logs/context", params={"id": "r0020", "before": "5", "after": "5"}).json()[
        "data"
    ]
    assert [h["id"] for h in data["before"]] == [f"r{i:04d}" for i in range(15, 20)]
    assert len(data["after"]) == 5 and not data["truncated"]


def test_context_stops_at_the_byte_budget_nearest_records_first(store: TantivyStore) -> None:
    client = _client(store, SearchApiConfig(max_response_bytes=5_000))  # a record is about 1,200 bytes
    data = client.get("/api/v1/logs/context", params={"id": "r0020", "before": "5", "after": "5"}).json()[
        "data"
    ]
    assert data["truncated"]
    assert [h["id"] for h in data["before"]] == ["r0018", "r0019"]
    assert [h["id"] for h in data["after"]] == ["r0021", "r0022"]


def test_anonymous_tails_are_capped_per_client_address() -> None:
    hub = TailHub(registry=CollectorRegistry(), max_subscribers=10, max_subscribers_per_principal=2)
    held = [hub.subscribe("", None, address="10.0.0.1") for _ in range(2)]
    with pytest.raises(TailRefusedError, match=r"anonymous readers at 10\.0\.0\.1 already have 2") as refused:
        hub.subscribe("", None, address="10.0.0.1")
    assert refused.value.reason == "principal_subscribers"
    other = hub.subscribe("", None, address="10.0.0.2")  # another address has its own share
    hub.subscribe("", "alice", address="10.0.0.1")  # and so has a principal at the same address
    hub.unsubscribe(held[0])
    hub.subscribe("", None, address="10.0.0.1")
    hub.unsubscribe(other)


def test_tail_endpoint_refuses_an_address_over_its_share(store: TantivyStore) -> None:
    hub = TailHub(registry=CollectorRegistry(), max_subscribers=10, max_subscribers_per_principal=1)
    client = _client(store, SearchApiConfig(), hub)
    hub.subscribe("", None, address="testclient")  # TestClient's client host
    r = client.get("/api/v1/logs/tail")
    assert r.status_code == 429 and "anonymous readers at testclient" in r.json()["error"]


class _BlockedSpool:
    """A spool whose append waits until released: the UDP queue fills meanwhile."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.appended: list[RawMessage] = []

    def append(self, messages: Sequence[RawMessage]) -> int:
        self.release.wait(10)
        self.appended.extend(messages)
        return len(messages)


def test_udp_queue_is_bounded_in_bytes_and_datagrams_in_size() -> None:
    reg = CollectorRegistry()

    async def run() -> None:
        spool = _BlockedSpool()
        ctx = Context(spool, ReceiverMetrics.create(reg))  # type: ignore[arg-type]
        rx = SyslogUdpReceiver(ctx, 1000, batch_messages=2, queue_bytes=10_000, max_message_bytes=4000)
        rx.connection_made(None)  # type: ignore[arg-type]
        addr = ("127.0.0.1", 5000)
        rx.datagram_received(b"y" * 4001, addr)  # too long
        for _ in range(5):
            rx.datagram_received(b"x" * 3000, addr)  # 3 fit in 10,000 bytes (2 of them being appended)
            await asyncio.sleep(0)
        assert reg.get_sample_value("paramedic_logs_dropped_total", {"transport": "udp"}) == 3
        spool.release.set()
        while len(spool.appended) < 3:
            await asyncio.sleep(0.01)
        rx.datagram_received(b"x" * 3000, addr)  # room again
        while len(spool.appended) < 4:
            await asyncio.sleep(0.01)
        await rx.aclose(1.0)
        ctx.executor.shutdown()

    asyncio.run(asyncio.wait_for(run(), 20))
