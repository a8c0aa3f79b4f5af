"""Query limits as the HTTP API answers them: Prometheus' error JSON, status and errorType for every entry
point that parses PromQL (query, query_range, match[] of series/labels/label values, format_query)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from metrics_store.api import ServerInfo, query_router, status_router
from metrics_store.config import QueryLimits
from metrics_store.memory import MemoryStore
from metrics_store.model import Labels, Matcher, SeriesData, labels_from
from metrics_store.promql import parse_selector
from metrics_store.promql.semantics import Semantics

CHAIN = "-".join(["1"] * 5000)
PARENS = "(" * 10_000 + "1" + ")" * 10_000


@pytest.fixture
def client() -> TestClient:
    store = MemoryStore()
    ref = store.series_ref(labels_from({"__name__": "m", "i": "0"}))
    store.append([ref] * 100, [t * 15_000 for t in range(100)], [1.0] * 100)
    app = FastAPI()
    limits = QueryLimits(max_samples=1_000_000)
    app.include_router(query_router(store, limits=limits, clock=lambda: 1000.0, registry=CollectorRegistry()))
    app.include_router(status_router(ServerInfo("test", datetime.now(UTC), lambda: "")))
    return TestClient(app)


def _error(resp: object, status: int, error_type: str) -> str:
    assert resp.status_code == status, resp.text  # type: ignore[attr-defined]
    body = resp.json()  # type: ignore[attr-defined]
    assert body["status"] == "error" and body["errorType"] == error_type
    return str(body["error"])


@pytest.mark.parametrize("query", [CHAIN, PARENS], ids=["chain", "parens"])
def test_every_parsing_entry_point_refuses_oversized_queries(client: TestClient, query: str) -> None:
    for path, params in [
        ("/api/v1/query", {"query": query}),
        ("/api/v1/query_range", {"query": query, "start": "0", "end": "60", "step": "15"}),
        ("/api/v1/format_query", {"query": query}),
    ]:
        message = _error(client.get(path, params=params), 400, "bad_data")
        assert message.startswith('invalid parameter "query": parse error: expression '), message
    for path in ("/api/v1/series", "/api/v1/labels", "/api/v1/label/i/values"):
        message = _error(client.get(path, params={"match[]": query}), 400, "bad_data")
        assert message.startswith('invalid parameter "match[]": parse error: expression '), message
    assert client.get("/api/v1/query", params={"query": "m", "time": "100"}).json()["status"] == "success"


def test_refusals_answered_like_prometheus(client: TestClient) -> None:
    resp = client.get("/api/v1/query", params={"query": "max_over_time(vector(1)[7d:1ms])"})
    assert _error(resp, 422, "execution") == (
        "query processing would load too many samples into memory in query execution"
    )
    resp = client.get("/api/v1/query_range", params={"query": "1", "start": "0", "end": "11001", "step": "1"})
    assert _error(resp, 400, "bad_data") == (
        "exceeded maximum resolution of 11,000 points per timeseries. "
        "Try decreasing the query resolution (?step=XX)"
    )
    resp = client.get("/api/v1/query", params={"query": "1", "time": "1e300"})
    assert _error(resp, 400, "bad_data") == "query time 1e+300 s is out of range"


def test_a_timeout_parameter_is_a_503_timeout(client: TestClient) -> None:
    # A 1 µs deadline is past by the time the first node is evaluated.
    resp = client.get(
        "/api/v1/query_range",
        params={"query": "sum(m)", "start": "0", "end": "1000", "step": "1", "timeout": "0.000001"},
    )
    assert _error(resp, 503, "timeout") == "query timed out in expression evaluation"


class _BlockingQuerier:
    """A Querier whose ``select`` blocks until ``release`` is set, recording how many ran at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = self.most = self.entered = 0

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        with self.lock:
            self.running += 1
            self.entered += 1
            self.most = max(self.most, self.running)
        self.release.wait(30)
        with self.lock:
            self.running -= 1
        return []

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        return []


def test_queries_wait_for_a_free_evaluator_and_never_take_the_other_routes_threads() -> None:
    """45 blocked queries (more than the 40 threads of Starlette's pool) with max_concurrency 2: two are
    evaluated, the rest wait, and a sync route still answers meanwhile."""
    querier = _BlockingQuerier()
    app = FastAPI()
    app.include_router(
        query_router(querier, limits=QueryLimits(max_concurrency=2), registry=CollectorRegistry())
    )

    @app.get("/sync")
    def sync_route() -> dict[str, bool]:
        return {"ok": True}

    async def main() -> list[int]:
        statuses: list[int] = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

            async def one() -> None:
                statuses.append((await client.get("/api/v1/query", params={"query": "up"})).status_code)

            async with anyio.create_task_group() as tg:
                for _ in range(45):
                    tg.start_soon(one)
                with anyio.fail_after(10):
                    while querier.entered < 2:
                        await anyio.sleep(0.01)
                    assert (await client.get("/sync")).json() == {"ok": True}
                assert querier.entered == 2
                querier.release.set()
        return statuses

    try:
        statuses = anyio.run(main)
    finally:
        querier.release.set()
    assert statuses == [200] * 45
    assert querier.most == 2 and querier.entered == 45


def _hostile_matchers(n: int) -> str:
    return "{" + ",".join(f'a=~"\\\\w{{0,200}}{i}"' for i in range(n)) + "}"


def test_regex_matchers_are_capped_and_compiled_by_re2(client: TestClient) -> None:
    message = _error(client.get("/api/v1/query", params={"query": _hostile_matchers(800)}), 400, "bad_data")
    assert message == 'invalid parameter "query": parse error: expression has more than 256 regex matchers'
    resp = client.get("/api/v1/query", params={"query": _hostile_matchers(256), "time": "100"})
    assert resp.json() == {"status": "success", "data": {"resultType": "vector", "result": []}}
    resp = client.get("/api/v1/query", params={"query": 'm{i=~"0|\\\\w{0,200}x"}', "time": "100"})
    assert [r["metric"] for r in resp.json()["data"]["result"]] == [{"__name__": "m", "i": "0"}]
    resp = client.get("/api/v1/format_query", params={"query": 'm{i=~"0|\\\\w{0,200}x"}'})
    assert resp.json() == {"status": "success", "data": 'm{i=~"0|\\\\w{0,200}x"}'}
    message = _error(client.get("/api/v1/series", params={"match[]": 'm{i=~"a{1001}"}'}), 400, "bad_data")
    assert message.startswith('invalid parameter "match[]": parse error: invalid regular expression'), message


def test_match_selectors_are_capped_and_parsed_off_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_loop: list[bool] = []

    def spy(text: str, semantics: Semantics) -> list[Matcher]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            on_loop.append(False)
        else:
            on_loop.append(True)
        return parse_selector(text, semantics)

    monkeypatch.setattr("metrics_store.api.parse_selector", spy)
    limit = QueryLimits().max_match_selectors
    for path in ("/api/v1/series", "/api/v1/labels", "/api/v1/label/i/values"):
        resp = client.get(path, params={"match[]": ['m{i="0"}'] * (limit + 1)})
        assert _error(resp, 400, "bad_data") == (
            f'invalid parameter "match[]": {limit + 1} selectors given, the limit is {limit}'
        )
        assert on_loop == []  # refused before any is parsed
        resp = client.get(path, params={"match[]": [f'm{{i="{n}"}}' for n in range(limit)]})
        assert resp.status_code == 200, resp.text
        assert len(on_loop) == limit and not any(on_loop)
        on_loop.clear()
    assert client.post("/api/v1/series", data={"match[]": ["m"]}).json()["data"] == [
        {"__name__": "m", "i": "0"}
    ]
