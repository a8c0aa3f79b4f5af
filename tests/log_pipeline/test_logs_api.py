"""HTTP API over the embedded store: envelope, parameters, errors; SSE tail over a real uvicorn server."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from log_pipeline.api import TailTiming, logs_router
from log_pipeline.model import LogRecord
from log_pipeline.search.tail import Subscription, TailHub
from log_pipeline.search.tantivy_store import TantivyStore
from platforms.local.state import free_port
from platforms.tenancy import FOUNDATION, Scope
from tests.log_pipeline.test_search_contract import DATA, T0
from tests.support.servers import served_in_thread, wait_until


@dataclass
class Pat:
    app: str
    pattern_id: str
    template: str
    count: int
    first_seen_ns: int


class Patterns:
    def list_patterns(self, app: str | None, limit: int, *, scope: Scope = FOUNDATION) -> list[Pat]:
        items = [Pat("cart", "p1", "GET <*>", 3, T0), Pat("checkout", "p2", "connection refused <*>", 1, T0)]
        return [p for p in items if app is None or p.app == app][:limit]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TantivyStore]:
    s = TantivyStore(tmp_path / "idx", registry=CollectorRegistry())
    s.write(DATA)
    yield s
    s.close()


@pytest.fixture
def client(store: TantivyStore) -> TestClient:
    app = FastAPI()
    app.include_router(logs_router(store, Patterns(), TailHub(registry=CollectorRegistry())))
    return TestClient(app)


def test_search_envelope_and_cursor(client: TestClient) -> None:
    r = client.get("/api/v1/logs/search", params={"q": "status:[500 TO 599]", "limit": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "success"
    data = body["data"]
    assert data["total"] == 8 and len(data["hits"]) == 3
    hit = data["hits"][0]
    assert set(hit) >= {"timestamp", "message", "labels", "fields", "id"}
    assert hit["timestamp"].endswith("Z") and hit["fields"]["status"] >= 500
    r2 = client.get(
        "/api/v1/logs/search", params={"q": "status:[500 TO 599]", "limit": 10, "cursor": data["next_cursor"]}
    )
    assert r2.json()["data"]["hits"][0]["id"] not in {h["id"] for h in data["hits"]}
    assert r2.json()["data"]["next_cursor"] is None


def test_search_time_params_rfc3339_and_unix(client: TestClient) -> None:
    start = "2024-05-01T12:03:00Z"
    end = str((T0 + 300 * 10**9) // 10**9)
    data = client.get("/api/v1/logs/search", params={"start": start, "end": end}).json()["data"]
    assert data["total"] == 6


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"q": "app:(cart OR"}, "at column 13"),
        ({"q": "status:[1 TO 2"}, "expected ']' or '}'"),
        ({"start": "yesterday"}, 'invalid parameter "start"'),
        ({"limit": "0"}, 'invalid parameter "limit"'),
        ({"cursor": "!!"}, 'invalid parameter "cursor"'),
    ],
)
def test_search_bad_params(client: TestClient, params: dict[str, str], fragment: str) -> None:
    r = client.get("/api/v1/logs/search", params=params)
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == "error" and body["errorType"] == "bad_data"
    assert fragment in body["error"]


def test_histogram(client: TestClient) -> None:
    r = client.get(
        "/api/v1/logs/histogram",
        params={"q": "level:error", "start": str(T0 // 10**9), "end": str(T0 // 10**9 + 1200), "step": "5m"},
    )
    data = r.json()["data"]
    expected = [0] * 5
    for rec in DATA:
        if rec.labels["level"] == "error":
            expected[(rec.timestamp_ns - T0) // (300 * 10**9)] += 1
    assert [b["count"] for b in data["buckets"]] == expected
    assert data["buckets"][0]["timestamp"] == "2024-05-01T12:00:00.000000000Z"
    bad = client.get("/api/v1/logs/histogram", params={"step": "0.5ms", "start": "0", "end": "1"})
    assert bad.status_code == 400


def test_context_and_unknown_id(client: TestClient) -> None:
    data = client.get("/api/v1/logs/context", params={"id": "r011", "before": 2, "after": 1}).json()["data"]
    assert data["hit"]["id"] == "r011"
    assert [h["id"] for h in data["before"]] == ["r007", "r009"]
    assert [h["id"] for h in data["after"]] == ["r013"]
    r = client.get("/api/v1/logs/context", params={"id": "missing"})
    assert r.status_code == 404 and r.json()["errorType"] == "not_found"


def test_patterns(client: TestClient) -> None:
    data = client.get("/api/v1/logs/patterns", params={"app": "cart"}).json()["data"]
    assert data["patterns"] == [
        {
            "app": "cart",
            "pattern_id": "p1",
            "template": "GET <*>",
            "count": 3,
            "first_seen_ns": T0,
            "first_seen": "2024-05-01T12:00:00.000000000Z",
        }
    ]


def _free_port() -> int:
    return free_port()


def _served(app: FastAPI) -> contextlib.AbstractContextManager[str]:
    """``app`` on a real uvicorn (a live tail needs a real server); the tail's URL."""
    return _tail_url(served_in_thread(app))


@contextlib.contextmanager
def _tail_url(served: contextlib.AbstractContextManager[str]) -> Iterator[str]:
    with served as base:
        yield base + "/api/v1/logs/tail"


def test_tail_sse_filters_and_counts_drops(store: TantivyStore) -> None:
    hub = TailHub(queue_size=2, registry=CollectorRegistry())
    app = FastAPI()
    app.include_router(logs_router(store, tail=hub, tail_timing=TailTiming(poll_s=0.01)))
    with _served(app) as url:
        assert httpx.get(url, params={"q": "app:("}, timeout=5).status_code == 400
        with httpx.stream("GET", url, params={"q": "level:error"}, timeout=10) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            lines = resp.iter_lines()
            assert next(lines) == ": connected"
            deadline = time.monotonic() + 5
            while not hub._subs:  # the subscription exists once the first event was sent
                assert time.monotonic() < deadline
                time.sleep(0.01)
            new = [
                LogRecord(f"n{i}", T0 + i, f"boom {i}", {"app": "cart", "level": "error"}) for i in range(5)
            ]
            hub.publish([LogRecord("x", T0, "fine", {"app": "cart", "level": "info"}), *new])
            events: list[tuple[str, dict[str, object]]] = []
            event = ""
            for line in lines:
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    events.append((event, orjson.loads(line[6:])))
                    if event == "dropped":
                        break
        logs = [d["id"] for e, d in events if e == "log"]
        assert logs == ["n0", "n1"]  # queue of 2: the rest dropped for this slow client, not blocked
        assert events[-1] == ("dropped", {"dropped": 3})
    deadline = time.monotonic() + 5
    while hub._subs:
        assert time.monotonic() < deadline, "subscription not released after disconnect"
        time.sleep(0.01)


def test_an_idle_tail_polls_without_asking_whether_the_client_left(
    store: TantivyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each poll of an open tail used to await ``request.is_disconnected()`` (~0.1 ms of the event loop: anyio
    formats the task's repr into the cancel reason), 20 times a second per subscriber; the response's own
    disconnect listener is what ends the stream. The subscription is still released when the client leaves."""
    asked: list[int] = []
    original = Request.is_disconnected

    async def counted(self: Request) -> bool:
        asked.append(1)
        return await original(self)

    monkeypatch.setattr(Request, "is_disconnected", counted)
    hub = TailHub(registry=CollectorRegistry())
    polls: list[int] = []
    real_get = Subscription.get

    def counting_get(self: Subscription, timeout_s: float) -> LogRecord | None:
        polls.append(1)
        return real_get(self, timeout_s)

    monkeypatch.setattr(Subscription, "get", counting_get)
    app = FastAPI()
    app.include_router(logs_router(store, tail=hub, tail_timing=TailTiming(poll_s=0.005)))
    with _served(app) as url:
        with httpx.stream("GET", url, params={"q": "level:error"}, timeout=10) as resp:
            lines = resp.iter_lines()  # kept: a dropped iterator closes the stream
            assert next(lines) == ": connected"
            wait_until(lambda: len(polls) >= 20, 10, "20 polls of the idle tail")
            assert hub._subs  # still open
        wait_until(lambda: not hub._subs, 10, "the subscription released after the client left")
    assert asked == []
