"""The Prometheus query API over a MemoryStore through FastAPI's TestClient: shapes, errors, GET and POST."""

from __future__ import annotations

import math
from typing import Any

import pytest
from anyio import to_thread
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from metrics_store.api import format_value, parse_duration_param, parse_time_param, query_router
from metrics_store.memory import MemoryStore
from metrics_store.model import STALE_NAN, labels_from

NOW_S = 1_000.0


@pytest.fixture
def client() -> TestClient:
    store = MemoryStore()
    for job, inst, step in (("api", "a", 1.0), ("api", "b", 2.0), ("db", "a", 3.0)):
        ref = store.series_ref(labels_from({"__name__": "up_total", "job": job, "instance": inst}))
        store.append([ref] * 61, [t * 15_000 for t in range(61)], [t * step for t in range(61)])
    ref = store.series_ref(labels_from({"__name__": "gauge", "job": "api"}))
    store.append([ref] * 3, [0, 15_000, 30_000], [1.5, math.inf, STALE_NAN])
    app = FastAPI()
    app.include_router(query_router(store, clock=lambda: NOW_S, registry=CollectorRegistry()))
    return TestClient(app)


def test_instant_vector_shape_get_and_post(client: TestClient) -> None:
    q = {"query": 'up_total{job="api"}', "time": "900"}
    for resp in (client.get("/api/v1/query", params=q), client.post("/api/v1/query", data=q)):
        assert resp.status_code == 200
        body = resp.json()
        assert body["status"] == "success"
        assert body["data"]["resultType"] == "vector"
        assert sorted(r["metric"]["instance"] for r in body["data"]["result"]) == ["a", "b"]
        for r in body["data"]["result"]:
            assert r["metric"]["__name__"] == "up_total"
            assert r["value"][0] == 900
            assert isinstance(r["value"][1], str)
            assert float(r["value"][1]) == 60 * (1.0 if r["metric"]["instance"] == "a" else 2.0)


def test_default_time_is_the_injected_clock(client: TestClient) -> None:
    body = client.get("/api/v1/query", params={"query": "time()"}).json()
    assert body["data"] == {"resultType": "scalar", "result": [NOW_S, str(int(NOW_S))]}


def test_scalar_string_and_matrix_results(client: TestClient) -> None:
    body = client.get("/api/v1/query", params={"query": "1 / 0", "time": "10.5"}).json()
    assert body["data"] == {"resultType": "scalar", "result": [10.5, "+Inf"]}
    body = client.get("/api/v1/query", params={"query": '"hello"', "time": "10"}).json()
    assert body["data"] == {"resultType": "string", "result": [10, "hello"]}
    # [2m]: Prometheus 3's ranges are left-open, (-60 s, 60 s] holds the sample at 0 (not [1m]'s (0, 60])
    body = client.get("/api/v1/query", params={"query": "gauge[2m]", "time": "60"}).json()
    assert body["data"]["resultType"] == "matrix"
    # The staleness marker is not a sample of a range vector.
    assert body["data"]["result"] == [
        {"metric": {"__name__": "gauge", "job": "api"}, "values": [[0, "1.5"], [15, "+Inf"]]}
    ]


def test_query_range_shape_sorted_and_post(client: TestClient) -> None:
    params = {"query": "sum by (instance) (rate(up_total[1m]))", "start": "120", "end": "240", "step": "60"}
    for resp in (
        client.get("/api/v1/query_range", params=params),
        client.post("/api/v1/query_range", data=params),
    ):
        body = resp.json()
        assert resp.status_code == 200, body
        assert body["data"]["resultType"] == "matrix"
        result = body["data"]["result"]
        assert [r["metric"] for r in result] == [{"instance": "a"}, {"instance": "b"}]
        assert [v[0] for v in result[0]["values"]] == [120, 180, 240]
        # instance a: 1/15 + 3/15 per second (api + db), instance b: 2/15.
        assert float(result[0]["values"][0][1]) == pytest.approx(4 / 15)
        assert float(result[1]["values"][0][1]) == pytest.approx(2 / 15)


def test_query_range_rfc3339_and_duration_step(client: TestClient) -> None:
    params = {"query": "gauge", "start": "1970-01-01T00:00:00Z", "end": "1970-01-01T00:01:00Z", "step": "15s"}
    body = client.get("/api/v1/query_range", params=params).json()
    # Present at 0 and 15s, ended by the staleness marker at 30s.
    assert body["data"]["result"][0]["values"] == [[0, "1.5"], [15, "+Inf"]]


@pytest.mark.parametrize(
    ("path", "params", "status", "error_type", "message"),
    [
        ("/api/v1/query", {"query": "sum("}, 400, "bad_data", 'invalid parameter "query"'),
        (
            "/api/v1/query",
            {"query": "up_total", "time": "yesterday"},
            400,
            "bad_data",
            'invalid parameter "time"',
        ),
        (
            "/api/v1/query",
            {"query": "up_total", "timeout": "soon"},
            400,
            "bad_data",
            'invalid parameter "timeout"',
        ),
        (
            "/api/v1/query",
            {"query": "limitk(2, up_total)"},
            400,
            "bad_data",
            "limitk() is experimental",  # Prometheus 3 refuses it without promql-experimental-functions
        ),
        (
            "/api/v1/query",
            {"query": "up_total + on(job) up_total"},
            422,
            "execution",
            "many-to-many matching not allowed",
        ),
        (
            "/api/v1/query_range",
            {"query": "1", "start": "10", "end": "5", "step": "1"},
            400,
            "bad_data",
            "end timestamp must not be before start time",
        ),
        (
            "/api/v1/query_range",
            {"query": "1", "start": "0", "end": "5", "step": "0"},
            400,
            "bad_data",
            "zero or negative query resolution step widths are not accepted",
        ),
        (
            "/api/v1/query_range",
            {"query": "1", "start": "0", "end": "11001", "step": "1"},
            400,
            "bad_data",
            "exceeded maximum resolution of 11,000 points per timeseries",
        ),
        (
            "/api/v1/query_range",
            {"query": "1", "start": "0", "end": "5", "step": "x"},
            400,
            "bad_data",
            'invalid parameter "step"',
        ),
        (
            "/api/v1/query_range",
            {"query": "1", "end": "5", "step": "1"},
            400,
            "bad_data",
            'invalid parameter "start"',
        ),
        (
            "/api/v1/query_range",
            {"query": "up_total[5m]", "start": "0", "end": "5", "step": "1"},
            400,
            "bad_data",
            'invalid expression type "range vector" for range query',
        ),
        ("/api/v1/series", {}, 400, "bad_data", "no match[] parameter provided"),
        ("/api/v1/series", {"match[]": "rate(x[5m])"}, 400, "bad_data", 'invalid parameter "match[]"'),
    ],
)
def test_errors_like_prometheus(
    client: TestClient, path: str, params: dict[str, str], status: int, error_type: str, message: str
) -> None:
    resp = client.get(path, params=params)
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["status"] == "error"
    assert body["errorType"] == error_type
    assert message in body["error"]


def test_label_values_of_a_utf8_label_name_escaped_as_prometheus_3_does(client: TestClient) -> None:
    # any UTF-8 label name is valid in 3.x; a non-legacy one is U__-escaped in the path ("a.b": U__a_2e_b)
    for path in ("/api/v1/label/in-valid/values", "/api/v1/label/U__a_2e_b/values"):
        body = client.get(path).json()
        assert body == {"status": "success", "data": []}, path


def test_query_range_11000_points_is_allowed(client: TestClient) -> None:
    params = {"query": "1", "start": "0", "end": "11000", "step": "1"}
    assert client.get("/api/v1/query_range", params=params).status_code == 200


def test_series_labels_and_label_values(client: TestClient) -> None:
    body = client.get(
        "/api/v1/series", params=[("match[]", 'up_total{instance="a"}'), ("match[]", "gauge")]
    ).json()
    assert body["status"] == "success"
    assert body["data"] == [
        {"__name__": "gauge", "job": "api"},
        {"__name__": "up_total", "instance": "a", "job": "api"},
        {"__name__": "up_total", "instance": "a", "job": "db"},
    ]
    assert client.get("/api/v1/labels").json()["data"] == ["__name__", "instance", "job"]
    assert client.post("/api/v1/labels", data={"match[]": "gauge"}).json()["data"] == ["__name__", "job"]
    assert client.get("/api/v1/label/job/values").json()["data"] == ["api", "db"]
    assert client.get("/api/v1/label/__name__/values").json()["data"] == ["gauge", "up_total"]
    values = client.get("/api/v1/label/instance/values", params={"match[]": 'up_total{job="db"}'}).json()
    assert values["data"] == ["a"]
    # A time range before any sample finds nothing, and answers an empty list (not null).
    empty = client.get("/api/v1/label/job/values", params={"start": "-100", "end": "-50"}).json()
    assert empty["data"] == []


def test_value_and_parameter_formatting() -> None:
    assert [format_value(v) for v in (1.0, -0.0, 0.1, 1e21, 1.5e-7, math.nan, math.inf, -math.inf)] == [
        "1",
        "-0",
        "0.1",
        "1000000000000000000000",
        "0.00000015",
        "NaN",
        "+Inf",
        "-Inf",
    ]
    assert parse_time_param("1435781451.781") == 1_435_781_451_781
    assert parse_time_param("2015-07-01T20:10:51.781Z") == 1_435_781_451_781
    assert parse_duration_param("1m30s") == 90_000
    assert parse_duration_param("0.5") == 500
    with pytest.raises(ValueError, match="to a valid timestamp"):
        parse_time_param("2015-07-01")


def test_a_query_is_evaluated_and_rendered_in_one_worker_thread_call(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each hop to a worker thread costs the event loop a limiter checkpoint, a wake-up and GIL hand-offs
    (what an ordinary read waits on behind a hostile burst): one per query, rendering included."""
    calls: list[str] = []
    real = to_thread.run_sync

    async def counted(fn: Any, *args: Any, **kw: Any) -> Any:
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await real(fn, *args, **kw)

    monkeypatch.setattr(to_thread, "run_sync", counted)  # the module metrics_store.api calls through
    instant = client.get("/api/v1/query", params={"query": 'up_total{job="api"}', "time": "900"})
    assert instant.status_code == 200 and len(instant.json()["data"]["result"]) == 2
    assert len(calls) == 1
    ranged = client.get(
        "/api/v1/query_range", params={"query": "up_total", "start": "0", "end": "900", "step": "15"}
    )
    assert ranged.status_code == 200 and len(ranged.json()["data"]["result"]) == 3
    assert len(calls) == 2
