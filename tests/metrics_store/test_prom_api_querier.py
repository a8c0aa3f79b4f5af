"""PrometheusAPIQuerier reads raw samples back through a real query API (Paramedic's, under uvicorn) exactly
as the store holds them; WindowCachingQuerier fetches each selector once per window."""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from metrics_store.api import query_router
from metrics_store.base import StoreError
from metrics_store.memory import MemoryStore
from metrics_store.model import Matcher, MatchOp, labels_from
from metrics_store.remote.prom_api import PrometheusAPIQuerier, WindowCachingQuerier
from tests.support.servers import free_port, wait_http

T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[MemoryStore, str]]:
    store = MemoryStore()
    for i in range(3):
        ref = store.series_ref(labels_from({"__name__": "up", "job": "app", "app_instance": str(i)}))
        ts = [T0 + k * 1000 + i for k in range(120)]
        store.append([ref] * len(ts), ts, [float((k + i) % 2) for k in range(len(ts))])
    other = store.series_ref(labels_from({"__name__": "other", "job": "node"}))
    store.append([other], [T0], [math.pi])
    app = FastAPI()
    app.include_router(query_router(store, registry=CollectorRegistry()))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/api/v1/labels", 15)
        yield store, url
    finally:
        server.should_exit = True
        t.join(10)


UP = [Matcher("__name__", MatchOp.EQ, "up")]


def test_select_returns_the_stored_samples(served: tuple[MemoryStore, str]) -> None:
    store, url = served
    remote = PrometheusAPIQuerier(url)
    with contextlib.closing(remote):
        for matchers, start, end in [
            (UP, T0, T0 + 119_002),
            (UP, T0 + 10_000, T0 + 20_500),
            ([*UP, Matcher("app_instance", MatchOp.RE, "1|2")], T0 + 5, T0 + 60_000),
            ([Matcher("__name__", MatchOp.EQ, "other")], T0, T0),
        ]:
            want = store.select(matchers, start, end)
            got = remote.select(matchers, start, end)
            assert [s.labels for s in got] == [s.labels for s in want]
            for g, w in zip(got, want, strict=True):
                assert g.timestamps_ms.tolist() == w.timestamps_ms.tolist()
                assert g.values.tolist() == w.values.tolist()
        assert remote.series(UP, T0, T0 + 1000) == store.series(UP, T0, T0 + 1000)


def test_window_cache_fetches_each_selector_once(served: tuple[MemoryStore, str]) -> None:
    store, url = served
    remote = PrometheusAPIQuerier(url)
    window = WindowCachingQuerier(remote, T0, T0 + 119_002)
    with contextlib.closing(remote):
        for k in range(50):
            start, end = T0 + k * 1000, T0 + k * 1000 + 30_000
            got = window.select(UP, start, end)
            want = store.select(UP, start, end)
            assert [g.values.tolist() for g in got] == [w.values.tolist() for w in want]
        assert window.fetches == 1
        window.select(UP, T0 - 10_000, T0 + 1000)  # outside the window: straight to the server
        assert window.fetches == 1


def test_errors_name_the_server(served: tuple[MemoryStore, str]) -> None:
    _, url = served
    dead = PrometheusAPIQuerier(f"http://127.0.0.1:{free_port()}")
    with (
        contextlib.closing(dead),
        pytest.raises(StoreError, match=r"GET http://127\.0\.0\.1:\d+/api/v1/query"),
    ):
        dead.select(UP, T0, T0 + 1)
    remote = PrometheusAPIQuerier(url)
    with contextlib.closing(remote), pytest.raises(StoreError, match="HTTP 400"):
        remote.select([Matcher("__name__", MatchOp.RE, ".*")], T0, T0 + 1)
