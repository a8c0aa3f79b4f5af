"""``highlight=true`` on the search and tail APIs: code-point spans of the matched message tokens and the
names of matched fields, computed from the query AST with the stores' tokenisation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from log_pipeline.api import logs_router
from log_pipeline.model import LogRecord
from log_pipeline.search.highlight import highlight
from log_pipeline.search.query import parse_query
from log_pipeline.search.tail import TailHub
from log_pipeline.search.tantivy_store import TantivyStore

HOSTILE = '<script>window.__xss=1</script> connection refused "><img src=x onerror="window.__xss=1">'


def spans(q: str, message: str) -> list[str]:
    return [message[s:e] for s, e in highlight(parse_query(q), message).message]


def test_terms_phrases_wildcards() -> None:
    msg = "Connection refused by db-1: connection REFUSED again"
    assert spans("refused", msg) == ["refused", "REFUSED"]
    assert spans('"connection refused"', msg) == ["Connection refused", "connection REFUSED"]
    assert spans("conn*", msg) == ["Connection", "connection"]
    assert spans("db-1", msg) == ["db-1"]  # one term, two tokens: the span covers both
    assert spans("refused OR again", msg) == ["refused", "REFUSED", "again"]


def test_negations_fields_and_match_all_mark_nothing_in_the_message() -> None:
    msg = "timeout after 30s status=500"
    assert spans("-timeout", msg) == []
    assert spans("NOT timeout AND after", msg) == ["after"]
    assert spans("", msg) == []
    found = highlight(parse_query("status:[500 TO 599] AND app:cart AND timeout"), msg)
    assert found.fields == ["status", "app"]
    assert [msg[s:e] for s, e in found.message] == ["timeout"]


def test_overlapping_spans_merge_and_offsets_are_code_points() -> None:
    msg = "😀 payment failed: failed payment"
    assert spans('"payment failed" OR failed', msg) == ["payment failed", "failed"]
    (s, e), *_ = highlight(parse_query("payment"), msg).message
    assert (s, e) == (2, 9)  # the emoji is one code point (two UTF-16 units)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    store = TantivyStore(tmp_path / "idx", registry=CollectorRegistry())
    now = time.time_ns()  # read when the fixture is built: collection may be long before the test runs
    records = [
        LogRecord(f"r{i}", now - (10 - i) * 10**9, msg, {"app": "cart", "instance": "0"}, {"status": 500})
        for i, msg in enumerate(["started", HOSTILE, "payment ok", "connection refused twice"])
    ]
    store.write(records)
    app = FastAPI()
    app.include_router(logs_router(store, None, TailHub(registry=CollectorRegistry())))
    yield TestClient(app)
    store.close()


def test_search_highlight_opt_in(client: TestClient) -> None:
    plain = client.get("/api/v1/logs/search", params={"q": "refused"}).json()["data"]
    assert plain["total"] == 2 and all("highlight" not in h for h in plain["hits"])  # unchanged by default
    data = client.get(
        "/api/v1/logs/search", params={"q": "refused AND status:500", "highlight": "true"}
    ).json()["data"]
    by_id = {h["id"]: h for h in data["hits"]}
    hostile = by_id["r1"]
    assert hostile["message"] == HOSTILE  # returned verbatim; escaping is the page's job
    [[s, e]] = hostile["highlight"]["message"]
    assert HOSTILE[s:e] == "refused"
    assert hostile["highlight"]["fields"] == ["status"]
    assert [by_id["r3"]["message"][s:e] for s, e in by_id["r3"]["highlight"]["message"]] == ["refused"]


def test_search_highlight_bad_query_is_400(client: TestClient) -> None:
    r = client.get("/api/v1/logs/search", params={"q": '"unterminated', "highlight": "1"})
    assert r.status_code == 400 and r.json()["errorType"] == "bad_data"


def test_context_returns_neighbours_of_a_hostile_line(client: TestClient) -> None:
    data = client.get("/api/v1/logs/context", params={"id": "r1", "before": 5, "after": 1}).json()["data"]
    assert data["hit"]["message"] == HOSTILE
    assert [r["id"] for r in data["before"]] == ["r0"]
    assert [r["id"] for r in data["after"]] == ["r2"]
