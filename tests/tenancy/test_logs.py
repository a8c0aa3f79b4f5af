"""Tenancy of logs: as an acme/prod viewer, every way out of the space through the log API.

Real parts: CF-drain syslog lines (hostname ``org.space.app``, as loggregator sends them) go through the real
pipeline (parser, enrichment, per-tenant pattern miners, pattern stats, embedded tantivy store, tail hub);
the HTTP API runs behind the real auth middleware with scoped tokens from a real token file; the live tail
is read over a real socket from uvicorn; one test searches through a real search worker process. The
foreign tenants (acme/dev, globex/prod: the same app name ``api`` in each) and a foundation component
(the router) must never show to the acme/prod viewer, in hits, counts, pages, context, patterns or tail.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from log_pipeline.api import TailTiming, logs_router
from log_pipeline.config import SearchApiConfig
from log_pipeline.model import RawMessage
from log_pipeline.patterns import PatternStats, TenantMiners
from log_pipeline.pipeline import PipelineMetrics, build_pipeline, standard_stages
from log_pipeline.search.base import RecordNotFoundError
from log_pipeline.search.engine import EngineClient
from log_pipeline.search.es_store import ElasticsearchStore
from log_pipeline.search.tail import TailHub, TailRefusedError
from log_pipeline.search.tantivy_store import TantivyStore
from log_pipeline.search.tenant_limits import TenantSearchLimiter
from log_pipeline.search.workers import SearchWorkerPool
from log_pipeline.syslog import SyslogParser
from paramedic.auth import AuthMiddleware, TokenStore
from paramedic.auth._middleware import decisions_counter
from paramedic.config import ConfigError, parse_config
from platforms.local.state import free_port
from platforms.tenancy import FOUNDATION, Grant, Scope

T0 = 1_764_979_200  # 2025-12-06T00:00:00Z, seconds
ACME_PROD = Scope.of([Grant("acme", "prod", "viewer")])
ACME_DEV = Scope.of([Grant("acme", "dev", "viewer")])
GUIDS = {
    "acme.prod.api": "11111111-1111-4111-8111-111111111111",
    "acme.dev.api": "22222222-2222-4222-8222-222222222222",
    "globex.prod.api": "33333333-3333-4333-8333-333333333333",
}
# (host, message): interleaved in time so that every neighbour of an acme/prod line is foreign
LINES = [
    ("acme.prod.api", "cache warmed region north"),
    ("globex.prod.api", "cache warmed region south"),
    ("acme.dev.api", "devonly feature flag flipped"),
    ("gorouter", "router heartbeat ok"),
    ("acme.prod.api", "cache warmed region north"),
    ("globex.prod.api", "globexsecret order 7 shipped"),
    ("acme.dev.api", "devonly cache warmed region east"),
    ("acme.prod.api", "order 12 paid"),
    ("globex.prod.api", "globexsecret order 8 shipped"),
    ("gorouter", "router heartbeat ok"),
    ("acme.prod.api", "order 13 paid"),
    ("acme.dev.api", "devonly order 14 paid"),
]
FOREIGN_WORDS = ("south", "globexsecret", "devonly", "heartbeat", "east")


def _tenant(host: str) -> tuple[str, str]:
    org, space, _ = host.split(".", 2) if host.count(".") >= 2 else ("", "", "")
    return org, space


def _syslog(host: str, message: str, second: int) -> bytes:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + second))
    if host == "gorouter":  # a foundation component: no org/space in the hostname
        return f"<14>1 {stamp}.000000Z gorouter gorouter [RTR/0] - - {message}".encode()
    return f"<14>1 {stamp}.000000Z {host} {GUIDS[host]} [APP/PROC/WEB/0] - - {message}".encode()


def _raw(data: bytes) -> RawMessage:
    return RawMessage(data, time.time_ns(), "relp", "127.0.0.1:5000")


@dataclass
class Env:
    root: Path
    store: TantivyStore
    hub: TailHub
    stats: PatternStats
    process: Any
    limiter: TenantSearchLimiter
    registry: CollectorRegistry
    client: TestClient
    tokens: dict[str, str]
    ids: dict[str, list[str]]  # tenant "org/space" ("" for the foundation) -> record ids
    app: FastAPI
    seq: list[int]

    def feed(self, lines: list[tuple[str, str]], first_second: int) -> None:
        batch = []
        for i, (host, message) in enumerate(lines):
            self.seq[0] += 1
            batch.append((self.seq[0], _raw(_syslog(host, message, first_second + i))))
        self.process(batch)

    def get(self, who: str, path: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.client.get(f"/api/v1/logs/{path}", params=params, headers=headers)


def _make_env(root: Path) -> Env:
    registry = CollectorRegistry()
    store = TantivyStore(root / "idx", partition_s=86_400, registry=registry)
    hub = TailHub(registry=registry, max_subscribers_per_tenant=1)
    stats = PatternStats()
    process = build_pipeline(
        SyslogParser(registry=registry),
        standard_stages(TenantMiners(), stats, store, hub),
        metrics=PipelineMetrics(registry),
    )
    tokens_file = TokenStore(root / "tokens.json")
    tokens = {
        "acme-prod": tokens_file.create("acme-prod", "viewer", grants=[Grant("acme", "prod", "viewer")]),
        "acme-dev": tokens_file.create("acme-dev", "viewer", grants=[Grant("acme", "dev", "viewer")]),
        "nobody": tokens_file.create("nobody", "viewer", grants=[Grant("initech", None, "viewer")]),
        "foundation": tokens_file.create("foundation", "viewer"),
    }
    limiter = TenantSearchLimiter(1, registry)
    app = FastAPI()
    app.include_router(
        logs_router(
            store,
            stats,
            hub,
            tail_timing=TailTiming(poll_s=0.01),
            limits=SearchApiConfig(max_searches_per_tenant=1),
            tenant_limits=limiter,
        )
    )
    app.add_middleware(
        AuthMiddleware,
        store=tokens_file,
        anonymous_read=False,
        decisions=decisions_counter(CollectorRegistry()),
    )
    e = Env(root, store, hub, stats, process, limiter, registry, TestClient(app), tokens, {}, app, [0])
    e.feed(LINES, 0)
    page = store.search("", None, None, 1000)
    for r in page.hits:
        org, space = r.labels.get("org", ""), r.labels.get("space", "")
        e.ids.setdefault(f"{org}/{space}" if org else "", []).append(r.id)
    return e


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    e = _make_env(tmp_path_factory.mktemp("tlogs"))
    yield e
    e.store.close()


@pytest.fixture
def own_env(tmp_path: Path) -> Iterator[Env]:
    """An environment of its own, for a test that feeds more lines (the shared one's counts stay exact)."""
    e = _make_env(tmp_path)
    yield e
    e.store.close()


def _hits(resp: httpx.Response) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.text
    return cast(list[dict[str, Any]], resp.json()["data"]["hits"])


def _tenants(hits: list[dict[str, Any]]) -> set[str]:
    return {f"{h['labels'].get('org', '')}/{h['labels'].get('space', '')}" for h in hits}


def test_the_fixture_holds_every_tenant_and_the_foundation(env: Env) -> None:
    assert sorted(env.ids) == ["", "acme/dev", "acme/prod", "globex/prod"]
    body = env.get("foundation", "search", q="*", limit=100).json()["data"]
    assert body["total"] == len(LINES)  # a foundation viewer sees everything, router lines included


@pytest.mark.parametrize(
    "query",
    [
        "*",
        "",
        "space:*",
        "org:*",
        "org:globex OR org:acme",
        "order OR cache",
        "cache OR order OR router OR devonly OR globexsecret",
        "app:api",
        "NOT level:nonexistent",
        "labels.org:* AND labels.space:*",
    ],
)
def test_a_space_viewer_sees_its_space_only(env: Env, query: str) -> None:
    resp = env.get("acme-prod", "search", q=query, limit=100)
    hits = _hits(resp)
    own = sorted(env.ids["acme/prod"])
    assert _tenants(hits) == {"acme/prod"}
    matching = [h["id"] for h in hits]
    assert set(matching) <= set(own)
    assert resp.json()["data"]["total"] == len(matching)  # the count is the tenant's, not the store's
    if query in ("*", "", "space:*", "org:*", "app:api", "order OR cache"):
        assert sorted(matching) == own


@pytest.mark.parametrize(
    "query",
    [
        "org:globex",
        "NOT space:prod",
        "space:dev",
        "org:glob*",
        "space:?ev",
        "org:*x",
        "labels.org:globex",
        "labels.space:d*",
        "hostname:globex.prod.api",
        "fields.hostname:acme.dev.*",
        "globexsecret",
        "devonly",
        "heartbeat",
        "source:RTR",
        "NOT org:acme",
        "org:acme AND NOT space:prod",
    ],
)
def test_queries_aimed_at_other_tenants_find_nothing(env: Env, query: str) -> None:
    resp = env.get("acme-prod", "search", q=query, limit=100)
    assert _hits(resp) == []
    assert resp.json()["data"]["total"] == 0
    hist = env.get("acme-prod", "histogram", q=query, start=T0 - 60, end=T0 + 60, step="10s")
    assert hist.status_code == 200 and hist.json()["data"]["total"] == 0


def test_a_scope_without_data_sees_nothing(env: Env) -> None:
    resp = env.get("nobody", "search", q="*", limit=100)
    assert _hits(resp) == [] and resp.json()["data"]["total"] == 0


def test_pages_walk_only_the_tenants_lines(env: Env) -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"q": "*", "limit": 1}
        if cursor:
            params["cursor"] = cursor
        data = env.get("acme-prod", "search", **params).json()["data"]
        assert data["total"] == len(env.ids["acme/prod"])
        seen += [h["id"] for h in data["hits"]]
        cursor = data["next_cursor"]
        if cursor is None:
            break
        assert len(seen) <= len(env.ids["acme/prod"]), "paging ran past the tenant's lines"
    assert sorted(seen) == sorted(env.ids["acme/prod"])


def test_histogram_counts_the_tenants_lines_only(env: Env) -> None:
    for who, tenant in (("acme-prod", "acme/prod"), ("acme-dev", "acme/dev")):
        data = env.get(who, "histogram", q="*", start=T0 - 60, end=T0 + 60, step="5s").json()["data"]
        assert data["total"] == len(env.ids[tenant])
        assert sum(b["count"] for b in data["buckets"]) == len(env.ids[tenant])
    data = env.get("foundation", "histogram", q="*", start=T0 - 60, end=T0 + 60, step="5s").json()["data"]
    assert data["total"] == len(LINES)


def test_context_of_an_own_line_has_no_foreign_neighbours(env: Env) -> None:
    own = sorted(env.ids["acme/prod"])
    middle = own[len(own) // 2]
    resp = env.get("acme-prod", "context", id=middle, before=20, after=20)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    around = data["before"] + data["after"]
    assert data["hit"]["id"] == middle
    assert _tenants(around) == {"acme/prod"}
    assert sorted([h["id"] for h in around] + [middle]) == own  # every own neighbour, nothing else
    # the same app name in acme/dev is another app: a foundation viewer's context keeps to the space too
    found = env.get("foundation", "context", id=middle, before=20, after=20).json()["data"]
    assert _tenants(found["before"] + found["after"]) == {"acme/prod"}


def test_context_of_a_foreign_line_is_404_like_an_unknown_id(env: Env) -> None:
    for foreign in env.ids["globex/prod"] + env.ids["acme/dev"] + env.ids[""]:
        resp = env.get("acme-prod", "context", id=foreign)
        assert resp.status_code == 404, resp.text
        assert resp.json()["errorType"] == "not_found"
        assert resp.json()["error"] == f"no record with id {foreign!r}"
    unknown = env.get("acme-prod", "context", id="ffffffffffffffff")
    assert unknown.status_code == 404 and unknown.json()["errorType"] == "not_found"
    assert env.get("foundation", "context", id=env.ids["globex/prod"][0]).status_code == 200


def test_patterns_show_no_foreign_template_count_or_example(env: Env) -> None:
    resp = env.get("acme-prod", "patterns", limit=100)
    assert resp.status_code == 200, resp.text
    items = resp.json()["data"]["patterns"]
    assert items and {(p["org"], p["space"]) for p in items} == {("acme", "prod")}
    assert sum(p["count"] for p in items) == len(env.ids["acme/prod"])
    text = resp.text
    for word in FOREIGN_WORDS:
        assert word not in text
    templates = {p["template"] for p in items}
    # mined among acme/prod's lines only: globex's "south" did not generalise the region into <*>
    assert "cache warmed region north" in templates
    everything = env.get("foundation", "patterns", limit=100).json()["data"]["patterns"]
    assert {(p["org"], p["space"]) for p in everything} == {
        ("acme", "prod"),
        ("acme", "dev"),
        ("globex", "prod"),
        ("", ""),
    }


def _wait(cond: Any, what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_sse_tail_of_star_receives_only_its_lines(own_env: Env) -> None:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(own_env.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait(lambda: server.started, "uvicorn did not start")
    received: list[dict[str, Any]] = []
    try:
        headers = {"Authorization": f"Bearer {own_env.tokens['acme-prod']}"}
        url = f"http://127.0.0.1:{port}/api/v1/logs/tail"
        with httpx.stream("GET", url, params={"q": "*"}, headers=headers, timeout=10) as resp:
            assert resp.status_code == 200
            lines = resp.iter_lines()
            assert next(lines) == ": connected"
            _wait(lambda: len(own_env.hub._subs) == 1, "no subscription")
            sub = own_env.hub._subs[0]
            # foreign lines first, then the tenant's own: FIFO, so by the time "tailend" arrives every
            # foreign line has been published (and was not queued for this subscriber)
            foreign = [(h, f"{m} live") for h, m in LINES if not h.startswith("acme.prod.")]
            own_env.feed([*foreign, ("acme.prod.api", "tail one"), ("acme.prod.api", "tailend")], 100)
            for line in lines:
                if line.startswith("data: "):
                    received.append(orjson.loads(line[6:]))
                    if received[-1].get("message") == "tailend":
                        break
        assert sub.dropped == 0
    finally:
        server.should_exit = True
        thread.join(10)
    assert [r["message"] for r in received] == ["tail one", "tailend"]
    assert _tenants(received) == {"acme/prod"}
    _wait(lambda: not own_env.hub._subs, "subscription not released")


def test_tails_per_tenant_are_limited_with_429(env: Env) -> None:
    held = env.hub.subscribe("*", "acme-prod", scope=ACME_PROD)
    try:
        resp = env.get("acme-prod", "tail", q="*")
        assert resp.status_code == 429
        assert resp.json()["errorType"] == "too_many_requests"
        assert "max_tails_per_tenant" in resp.json()["error"] and "acme/prod" in resp.json()["error"]
        assert "Retry-After" in resp.headers
        refused = env.registry.get_sample_value(
            "paramedic_log_tail_refused_total", {"reason": "tenant_subscribers"}
        )
        assert refused is not None and refused >= 1
    finally:
        env.hub.unsubscribe(held)


def test_searches_per_tenant_are_limited_with_429(env: Env) -> None:
    before = env.registry.get_sample_value(
        "paramedic_log_search_tenant_refused_total", {"reason": "tenant_searches"}
    )
    with env.limiter.admit(ACME_PROD):  # acme/prod's one slot is taken (a search in flight)
        for path, params in (
            ("search", {"q": "*"}),
            ("histogram", {"q": "*"}),
            ("context", {"id": env.ids["acme/prod"][0]}),
            ("patterns", {}),
        ):
            resp = env.get("acme-prod", path, **params)
            assert resp.status_code == 429, (path, resp.text)
            assert "max_searches_per_tenant" in resp.json()["error"]
        # another tenant and the foundation are not held up by acme/prod's share
        assert env.get("acme-dev", "search", q="*").status_code == 200
        assert env.get("foundation", "search", q="*").status_code == 200
    after = env.registry.get_sample_value(
        "paramedic_log_search_tenant_refused_total", {"reason": "tenant_searches"}
    )
    assert after == (before or 0) + 4
    assert env.limiter.held(ACME_PROD) == 0
    assert env.get("acme-prod", "search", q="*").status_code == 200


def test_config_names_file_and_key_for_a_tenant_share_that_fills_the_workers() -> None:
    text = "logs:\n  search_api:\n    search_processes: 2\n    max_queued_searches: 2\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text + "    max_searches_per_tenant: 4\n", "paramedic.yaml")
    message = str(err.value)
    assert "paramedic.yaml" in message and "max_searches_per_tenant" in message
    parsed = parse_config(text + "    max_searches_per_tenant: 3\n", "paramedic.yaml")
    assert parsed.logs is not None and parsed.logs.search_api.max_searches_per_tenant == 3
    # a default share is not validated: it is kept below the workers' capacity instead
    small = parse_config("logs:\n  search_api:\n    search_processes: 1\n    max_queued_searches: 1\n")
    assert small.logs is not None and small.logs.search_api.tenant_search_share == 1
    with pytest.raises(ConfigError, match="max_tails_per_tenant"):
        parse_config("logs:\n  search_api:\n    max_tails_per_tenant: 0\n", "paramedic.yaml")


def test_search_worker_processes_carry_the_scope(env: Env) -> None:
    limits = SearchApiConfig(search_processes=1, max_queued_searches=1, max_searches_per_tenant=1)
    pool = SearchWorkerPool(env.root / "idx", partition_s=86_400, limits=limits, registry=CollectorRegistry())
    pool.start()
    try:
        body = asyncio.run(pool.search_body(("*", None, None, 100, None), False, limits, scope=ACME_DEV))
        data = orjson.loads(body.content)["data"]
        assert _tenants(data["hits"]) == {"acme/dev"}
        everything = env.store.search("", None, None, 1000).hits  # the oracle: labels of every record
        assert data["total"] == sum(1 for r in everything if r.labels.get("space") == "dev")
        start, end = (T0 - 60) * 10**9, (T0 + 300) * 10**9
        buckets = asyncio.run(pool.histogram("org:globex", start, end, 60 * 10**9, scope=ACME_DEV))
        assert sum(b.count for b in buckets) == 0
        foreign = env.ids["globex/prod"][0]
        ctx = asyncio.run(pool.context_body(foreign, 1, 1, limits, scope=FOUNDATION))
        assert orjson.loads(ctx.content)["data"]["hit"]["id"] == foreign
        with pytest.raises(RecordNotFoundError, match="no record with id"):
            asyncio.run(pool.context_body(foreign, 1, 1, limits, scope=ACME_DEV))
    finally:
        pool.close()


class _CapturingClient:
    """Stands in for the engine client: records each search body, answers with no hits (the live check of
    the same scoping is ``opensearch:tenant_scope`` in tests/log_pipeline/test_search_contract.py)."""

    engine = "opensearch"

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        hits = {"hits": [], "total": {"value": 0, "relation": "eq"}}
        return {"hits": hits, "aggregations": {"h": {"buckets": []}}}


def test_elasticsearch_queries_carry_the_scope_as_a_bool_filter() -> None:
    client = _CapturingClient()
    es = ElasticsearchStore(cast(EngineClient, client), registry=CollectorRegistry())
    scope = Scope.of([Grant("acme", "prod", "viewer"), Grant("globex", None, "viewer")])
    tenant = {
        "bool": {
            "should": [
                {"bool": {"filter": [{"term": {"labels.org": "acme"}}, {"term": {"labels.space": "prod"}}]}},
                {"term": {"labels.org": "globex"}},
            ],
            "minimum_should_match": 1,
        }
    }
    es.search("", None, None, 10, scope=scope)
    assert client.bodies[-1]["query"] == tenant
    es.search("NOT space:prod", None, None, 10, scope=scope)
    # NOT space:prod AND <tenant>: the tenant is a filter clause, the user's NOT only subtracts from it
    expected = {"bool": {"filter": [tenant], "must_not": [{"term": {"labels.space": "prod"}}]}}
    assert client.bodies[-1]["query"] == expected
    es.histogram("org:acme*", T0 * 10**9, (T0 + 60) * 10**9, 10**10, scope=scope)
    assert tenant in client.bodies[-1]["query"]["bool"]["filter"][0]["bool"]["filter"]
    with pytest.raises(RecordNotFoundError, match="no record with id"):
        es.context("0000000000000001", 5, 5, scope=scope)
    assert client.bodies[-1]["query"] == {"bool": {"filter": [{"term": {"id": "0000000000000001"}}, tenant]}}
    es.search("", None, None, 10)  # the foundation scope adds nothing
    assert client.bodies[-1]["query"] == {"match_all": {}}


def test_tenant_miners_keep_templates_apart_and_are_bounded() -> None:
    evicted: list[str] = []
    miners = TenantMiners(max_tenants=2, on_evict=evicted.append)
    for word in ("north", "north"):
        miners.mine_for("acme", "prod", f"cache warmed region {word}")
    _, other = miners.mine_for("globex", "prod", "cache warmed region south")
    _, again = miners.mine_for("globex", "prod", "cache warmed region west")
    assert other == "cache warmed region south" and again == "cache warmed region <*>"
    assert miners.template(
        "acme", "prod", miners.mine_for("acme", "prod", "cache warmed region north")[0]
    ) == ("cache warmed region north")
    miners.mine_for("initech", "dev", "hello there")  # a third tenant: the least recently used miner goes
    assert sorted(miners.tenants()) == [("acme", "prod"), ("initech", "dev")]
    assert len(evicted) == 1 and len(miners) == 2


def test_a_tenants_tail_share_is_returned_on_unsubscribe() -> None:
    hub = TailHub(registry=CollectorRegistry(), max_subscribers_per_tenant=1)
    first = hub.subscribe("*", "a", scope=ACME_PROD)
    with pytest.raises(TailRefusedError, match="max_tails_per_tenant"):
        hub.subscribe("*", "b", scope=ACME_PROD)  # another principal of the same scope shares the share
    other = hub.subscribe("*", "c", scope=ACME_DEV)
    hub.unsubscribe(first)
    hub.unsubscribe(first)  # idempotent: the share is not returned twice
    again = hub.subscribe("*", "b", scope=ACME_PROD)
    with pytest.raises(TailRefusedError, match="max_tails_per_tenant"):
        hub.subscribe("*", "d", scope=ACME_PROD)
    for sub in (other, again):
        hub.unsubscribe(sub)
