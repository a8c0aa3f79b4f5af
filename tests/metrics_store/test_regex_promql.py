"""RE2 through the query API: selector matchers, match[] and label_replace answer as Prometheus does."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from metrics_store.api import query_router
from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from
from metrics_store.promql.semantics import PROMETHEUS_2, PROMETHEUS_3, Semantics


def _client(semantics: Semantics) -> TestClient:
    store = MemoryStore()
    for job in ("api-1", "api-2", "db", "multi\nline"):
        ref = store.series_ref(labels_from({"__name__": "up", "job": job, "path": "/a/b"}))
        store.append([ref], [0], [1.0])
    app = FastAPI()
    app.include_router(
        query_router(store, clock=lambda: 10.0, registry=CollectorRegistry(), semantics=semantics)
    )
    return TestClient(app)


@pytest.fixture
def client() -> TestClient:
    return _client(PROMETHEUS_3)


@pytest.fixture
def client2() -> TestClient:
    return _client(PROMETHEUS_2)


def _get(client: TestClient, path: str, params: dict[str, str]) -> httpx.Response:
    """GET in a thread: a backtracking regex would never return, so a join timeout reports a freeze."""
    out: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: out.append(client.get(path, params=params)), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), f"{path} {params} did not answer: backtracking?"
    return out[0]


def _jobs(body: dict[str, Any]) -> list[str]:
    return sorted(r["metric"].get("job", "") for r in body["data"]["result"])


def test_hostile_selector_answers_empty(client: TestClient) -> None:
    r = _get(client, "/api/v1/query", {"query": '{__name__=~"(.*.*)*X"}', "time": "10"})
    assert r.status_code == 200
    assert r.json()["data"]["result"] == []
    r = _get(client, "/api/v1/query", {"query": 'up{job=~"(a|aa)*c"}', "time": "10"})
    assert r.json()["data"]["result"] == []


def test_selectors_are_anchored_and_dot_matches_newline(client: TestClient) -> None:
    body = _get(client, "/api/v1/query", {"query": 'up{job=~"api-.|multi.line"}', "time": "10"}).json()
    assert _jobs(body) == ["api-1", "api-2", "multi\nline"]  # Prometheus 3: ^(?s:...)$
    body = _get(client, "/api/v1/query", {"query": 'up{job=~"api"}', "time": "10"}).json()
    assert _jobs(body) == []
    body = _get(client, "/api/v1/query", {"query": 'up{job!~"api-[0-9]+"}', "time": "10"}).json()
    assert _jobs(body) == ["db", "multi\nline"]


@pytest.mark.parametrize("path", ["/api/v1/query", "/api/v1/series"])
def test_pattern_re2_refuses_is_bad_data(client: TestClient, path: str) -> None:
    key = "query" if path.endswith("query") else "match[]"
    r = _get(client, path, {key: 'up{job=~"a{1001}"}', "time": "10"})
    assert r.status_code == 400
    body = r.json()
    assert body["errorType"] == "bad_data"
    assert "a{1001}" in body["error"] and "invalid repetition size" in body["error"]


def test_label_replace_expands_go_groups_with_re2(client: TestClient) -> None:
    q = 'label_replace(up{job=~"api-.*"}, "n", "${name}-$1x-$2", "job", "(?<name>api)-(?P<num>[0-9])")'
    body = _get(client, "/api/v1/query", {"query": q, "time": "10"}).json()
    assert sorted(r["metric"]["n"] for r in body["data"]["result"]) == ["api--1", "api--2"]  # $1x: no group


def test_selector_dot_does_not_match_newline_in_prometheus_2_42(client2: TestClient) -> None:
    body = _get(client2, "/api/v1/query", {"query": 'up{job=~"api-.|multi.line"}', "time": "10"}).json()
    assert _jobs(body) == ["api-1", "api-2"]
    body = _get(client2, "/api/v1/query", {"query": 'up{job!~"api-[0-9]+"}', "time": "10"}).json()
    assert _jobs(body) == ["db", "multi\nline"]
    body = _get(client2, "/api/v1/series", {"match[]": 'up{job=~"multi.*"}'}).json()
    assert body["data"] == []


def test_label_replace_dot_does_not_match_newline_as_in_prometheus_2_42(client2: TestClient) -> None:
    q = 'label_replace(up{job=~"multi(.|\\n)*"}, "n", "$1", "job", "(multi.line)")'
    body = _get(client2, "/api/v1/query", {"query": q, "time": "10"}).json()
    assert "n" not in body["data"]["result"][0]["metric"]


def test_label_replace_dot_matches_newline_as_in_prometheus_3(client: TestClient) -> None:
    q = 'label_replace(up{job=~"multi.*"}, "n", "$1", "job", "(multi.line)")'
    body = _get(client, "/api/v1/query", {"query": q, "time": "10"}).json()
    assert body["data"]["result"][0]["metric"]["n"] == "multi\nline"


@pytest.mark.parametrize("regex", ["(?<=a)pi", "(a)\\\\1", "a{1001}"])
def test_label_replace_regex_re2_refuses_is_an_execution_error(client: TestClient, regex: str) -> None:
    q = f'label_replace(up, "n", "$1", "job", "{regex}")'
    r = _get(client, "/api/v1/query", {"query": q, "time": "10"})
    assert r.status_code == 422
    assert r.json()["error"].startswith("invalid regular expression in label_replace(): ")


def test_label_replace_hostile_regex_answers(client: TestClient) -> None:
    q = 'label_replace(up{job="db"}, "n", "$1", "path", "((.*.*)*X)")'
    body = _get(client, "/api/v1/query", {"query": q, "time": "10"}).json()
    assert [r["metric"].get("n") for r in body["data"]["result"]] == [None]
