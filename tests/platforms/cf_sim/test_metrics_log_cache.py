"""The simulated Log Cache API over a real VictoriaMetrics: Log Cache's JSON shapes, values from points."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from platforms.cf_sim.log_cache import LogCache, create_log_cache_app
from platforms.cf_sim.log_cache_promql import VictoriaMetricsEngine
from platforms.cf_sim.log_cache_store import EnvelopeStore, Point
from platforms.cloudfoundry.log_cache import samples_from_response
from tests.support.servers import require_binary

GUID = "6e2a4b8c-1d3f-4a5e-9b7c-2f1e0d9c8b7a"
TOKEN = "test-token"
AUTH = {"Authorization": f"bearer {TOKEN}"}


class Setup:
    def __init__(self, client: TestClient, cache: LogCache, registry: CollectorRegistry) -> None:
        self.client = client
        self.cache = cache
        self.registry = registry
        self.now = time.time()
        rng = random.Random(7)
        # 40 requests over the last 40 s: durations (ns) and status codes the assertions recompute
        self.requests = [
            (self.now - 40 + i, rng.randint(1, 400) * 1_000_000, rng.choice(["200", "200", "200", "503"]))
            for i in range(40)
        ]
        points = [
            Point(
                GUID,
                "http",
                float(d),
                t,
                {"instance_id": str(i % 2), "status_code": s, "method": "GET"},
                kind="timer",
            )
            for i, (t, d, s) in enumerate(self.requests)
        ]
        # a gorouter counter, one point a second for 20 s with value 3*i
        self.t0 = float(int(self.now) - 30)
        points += [
            Point("gorouter", "total_requests", 3.0 * i, self.t0 + i, {"deployment": "cf"}, kind="counter")
            for i in range(21)
        ]
        cache.append(points)

    def get(self, path: str, **params: str) -> dict[str, object]:
        resp = self.client.get(path, params=params, headers=AUTH)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert isinstance(body, dict)
        return body


@pytest.fixture(scope="module")
def lc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    engine = VictoriaMetricsEngine(
        Path(tmp_path_factory.mktemp("vm")), binary=require_binary("victoria-metrics")
    )
    engine.start()
    try:
        registry = CollectorRegistry()
        cache = LogCache(EnvelopeStore(max_per_source=1000, registry=registry), engine)
        app = create_log_cache_app(cache, verify_token=lambda t: t == TOKEN, registry=registry)
        with TestClient(app) as client:
            yield Setup(client, cache, registry)
    finally:
        engine.stop()


def _quantile(q: float, values: list[float]) -> float:
    """Prometheus' quantile_over_time: linear interpolation between closest ranks."""
    s = sorted(values)
    rank = q * (len(s) - 1)
    lo = int(rank)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (rank - lo)


def test_query_counts_and_quantiles_app_requests(lc: Setup) -> None:
    at = f"{lc.now:.3f}"
    body = lc.get("/api/v1/query", query=f'sum(count_over_time(http{{source_id="{GUID}"}}[1m]))', time=at)
    assert body["status"] == "success"
    data = body["data"]
    assert isinstance(data, dict) and data["resultType"] == "vector"
    [series] = data["result"]
    assert float(series["value"][1]) == len(lc.requests)
    assert abs(float(series["value"][0]) - lc.now) < 0.01

    errors = sum(1 for _, _, s in lc.requests if s.startswith("5"))
    q = f'sum(count_over_time(http{{source_id="{GUID}",status_code=~"5.."}}[1m]))'
    [series] = lc.get("/api/v1/query", query=q, time=at)["data"]["result"]  # type: ignore[index]
    assert float(series["value"][1]) == errors

    for instance in ("0", "1"):
        durations = [float(d) for i, (_, d, _) in enumerate(lc.requests) if str(i % 2) == instance]
        q = f'quantile_over_time(0.95, http{{source_id="{GUID}",instance_id="{instance}"}}[1m])'
        result = lc.get("/api/v1/query", query=q, time=at)["data"]["result"]  # type: ignore[index]
        values = [float(s["value"][1]) for s in result]
        # one series per status code: the 200s of this instance
        ok = [float(d) for i, (_, d, s) in enumerate(lc.requests) if str(i % 2) == instance and s == "200"]
        assert pytest.approx(_quantile(0.95, ok)) in values
        assert max(values) <= max(durations)


def test_query_answer_is_what_paramedics_client_reads(lc: Setup) -> None:
    q = f'http{{source_id="{GUID}"}}'
    samples = samples_from_response(lc.get("/api/v1/query", query=q, time=f"{lc.now:.3f}"), q)
    assert {labels["source_id"] for labels, _, _ in samples} == {GUID}
    assert {labels["__name__"] for labels, _, _ in samples} == {"http"}
    assert {labels["instance_id"] for labels, _, _ in samples} == {"0", "1"}


def test_query_range_matrix_follows_the_counter(lc: Setup) -> None:
    body = lc.get(
        "/api/v1/query_range",
        query='total_requests{source_id="gorouter"}',
        start=str(lc.t0),
        end=str(lc.t0 + 20),
        step="5",
    )
    data = body["data"]
    assert isinstance(data, dict) and data["resultType"] == "matrix"
    [series] = data["result"]
    assert series["metric"]["source_id"] == "gorouter" and series["metric"]["deployment"] == "cf"
    got = {round(float(t) - lc.t0): float(v) for t, v in series["values"]}
    assert got == {i: 3.0 * i for i in (0, 5, 10, 15, 20)}
    assert all(isinstance(v, str) for _, v in series["values"])
    # the same range with an RFC 3339 start and a duration step
    rfc = dt.datetime.fromtimestamp(lc.t0, dt.UTC).isoformat().replace("+00:00", "Z")
    again = lc.get(
        "/api/v1/query_range",
        query='total_requests{source_id="gorouter"}',
        start=rfc,
        end=str(lc.t0 + 20),
        step="5s",
    )
    assert again["data"] == data


def test_meta_counts_per_source(lc: Setup) -> None:
    meta = lc.get("/api/v1/meta")["meta"]
    assert isinstance(meta, dict)
    assert meta[GUID]["count"] == str(len(lc.requests))
    assert meta["gorouter"]["count"] == "21"
    assert meta["gorouter"]["expired"] == "0"
    assert int(meta["gorouter"]["oldestTimestamp"]) == int(lc.t0 * 1e9)
    assert int(meta["gorouter"]["newestTimestamp"]) == int((lc.t0 + 20) * 1e9)


def test_read_returns_loggregator_envelopes(lc: Setup) -> None:
    batch = lc.get(f"/api/v1/read/{GUID}", limit="5", envelope_types="TIMER")["envelopes"]["batch"]  # type: ignore[index]
    assert len(batch) == 5
    first = batch[0]
    t, d, s = lc.requests[0]
    assert int(first["timestamp"]) == round(t * 1e9)
    assert first["source_id"] == GUID and first["instance_id"] == "0"
    assert int(first["timer"]["stop"]) - int(first["timer"]["start"]) == d
    assert first["tags"]["status_code"] == s
    counters = lc.get("/api/v1/read/gorouter", envelope_types="COUNTER", descending="true", limit="1")
    [newest] = counters["envelopes"]["batch"]  # type: ignore[index]
    assert newest["counter"] == {"name": "total_requests", "total": "60"}


def test_every_route_needs_a_good_token(lc: Setup) -> None:
    for path in ("/api/v1/query?query=up", "/api/v1/meta", f"/api/v1/read/{GUID}"):
        assert lc.client.get(path).status_code == 401
        assert lc.client.get(path, headers={"Authorization": "bearer wrong"}).status_code == 401
        assert lc.client.get(path, headers={"Authorization": TOKEN}).status_code == 401


def test_bad_queries_answer_in_the_error_shape(lc: Setup) -> None:
    cases = [
        {"query": "sum(("},
        {"query": "x" * 5000},
        {},
        {"query": "up", "start": "0", "end": "100000", "step": "1"},
    ]
    for params in cases:
        path = "/api/v1/query_range" if "step" in params else "/api/v1/query"
        resp = lc.client.get(path, params=params, headers=AUTH)
        assert resp.status_code == 400, params
        body = resp.json()
        assert body["status"] == "error" and body["errorType"] == "bad_data" and body["error"]
    assert lc.client.get(f"/api/v1/read/{GUID}", params={"limit": "5000"}, headers=AUTH).status_code == 400


def test_store_caps_each_source_and_counts_evictions() -> None:
    registry = CollectorRegistry()
    store = EnvelopeStore(max_per_source=5, max_sources=2, registry=registry)
    store.append(Point("a", "m", float(i), 100.0 + i) for i in range(8))
    store.append([Point("b", "m", 1.0, 1.0), Point("c", "m", 1.0, 1.0)])
    meta = store.meta()
    assert meta["a"]["count"] == "5" and meta["a"]["expired"] == "3"
    assert meta["a"]["oldestTimestamp"] == str(int(103e9))
    assert set(meta) == {"a", "b"}
    assert registry.get_sample_value("paramedic_cf_sim_log_cache_evictions_total") == 3
    assert registry.get_sample_value("paramedic_cf_sim_log_cache_dropped_total") == 1
