"""Remote store beyond the contract: line-protocol escaping against a real VictoriaMetrics, and the retry
policy against a real local HTTP server that fails on purpose."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import urllib3
from influxdb_client.rest import ApiException
from prometheus_client import CollectorRegistry

from metrics_store.config import RemoteStoreConfig
from metrics_store.errors import InvalidSampleError, RemoteReadError, RemoteWriteError
from metrics_store.model import STALE_NAN, Matcher, MatchOp, labels_from
from metrics_store.remote import RemoteStore
from metrics_store.remote._lineproto import series_prefix
from tests.metrics_store.conftest import VictoriaMetrics
from tests.support.servers import free_port, wait_until


def test_escaped_names_and_labels_round_trip(victoria_metrics: VictoriaMetrics) -> None:
    registry = CollectorRegistry()
    cfg = RemoteStoreConfig(type="remote", write_url=victoria_metrics.url, read_url=victoria_metrics.url)
    store = RemoteStore(cfg, registry=registry)
    name = f"esc:{uuid.uuid4().hex[:8]}_total"
    labels = labels_from({"__name__": name, "path": "/a b,c=d", "win": "C:\\dir\\", "q": '"x"', "u": "ünï"})
    now = int(time.time() * 1000)
    try:
        ref = store.series_ref(labels)
        store.append([ref, ref, ref], [now, now + 1, now + 2], [1.0, math.nan, STALE_NAN])
        res: list[object] = []

        def visible() -> bool:
            victoria_metrics.flush()
            res[:] = store.select([Matcher("__name__", MatchOp.EQ, name)], now - 1, now + 10)
            return bool(res)

        wait_until(visible, 20, "VictoriaMetrics to show the series")
        (got,) = store.select([Matcher("__name__", MatchOp.EQ, name)], now - 1, now + 10)
        assert got.labels == labels
        assert got.timestamps_ms.tolist() == [now]
        dropped = registry.get_sample_value(
            "paramedic_store_samples_dropped_total", {"backend": "remote", "reason": "nan"}
        )
        assert dropped == 2.0
        with pytest.raises(InvalidSampleError, match="newline"):
            store.series_ref(labels_from({"__name__": name, "bad": "a\nb"}))
    finally:
        store.close()


def test_influxdb_naming_lines() -> None:
    labels = labels_from({"__name__": "up", "job": "a b"})
    assert series_prefix(labels, "influxdb") == "up,job=a\\ b value="
    assert series_prefix(labels, "victoriametrics") == ",job=a\\ b up="


class _Failing(BaseHTTPRequestHandler):
    """Answers the first ``fail_first`` writes with ``status``, later ones with 204."""

    fail_first = 0
    status = 503
    hits = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        cls = type(self)
        cls.hits += 1
        code = cls.status if cls.hits <= cls.fail_first else 204
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def failing_server() -> Iterator[tuple[str, type[_Failing]]]:
    handler = type("Handler", (_Failing,), {})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _store(url: str, registry: CollectorRegistry, sleeps: list[float], retries: int = 3) -> RemoteStore:
    cfg = RemoteStoreConfig(
        type="remote", write_url=url, read_url=url, max_retries=retries, retry_backoff_s=0.5, timeout_s=5
    )
    return RemoteStore(cfg, registry=registry, sleep=sleeps.append)


def test_write_retries_5xx_with_backoff_then_succeeds(failing_server: tuple[str, type[_Failing]]) -> None:
    url, handler = failing_server
    handler.fail_first, handler.status = 2, 503
    registry, sleeps = CollectorRegistry(), []
    store = _store(url, registry, sleeps)
    try:
        ref = store.series_ref(labels_from({"__name__": "m"}))
        store.append([ref], [1000], [1.0])
        assert handler.hits == 3
        assert sleeps == [0.5, 1.0]
        assert registry.get_sample_value("paramedic_store_write_retries_total", {"backend": "remote"}) == 2.0
        assert (
            registry.get_sample_value("paramedic_store_samples_appended_total", {"backend": "remote"}) == 1.0
        )
    finally:
        store.close()


def test_write_that_keeps_failing_raises_and_is_counted(failing_server: tuple[str, type[_Failing]]) -> None:
    url, handler = failing_server
    handler.fail_first, handler.status = 100, 500
    registry, sleeps = CollectorRegistry(), []
    store = _store(url, registry, sleeps, retries=2)
    try:
        ref = store.series_ref(labels_from({"__name__": "m"}))
        with pytest.raises(RemoteWriteError, match="after 3 attempt") as exc:
            store.append([ref], [1000], [1.0])
        assert isinstance(exc.value.__cause__, ApiException)
        assert handler.hits == 3
        assert (
            registry.get_sample_value(
                "paramedic_store_errors_total", {"backend": "remote", "reason": "write"}
            )
            == 1
        )
        assert (
            registry.get_sample_value("paramedic_store_samples_appended_total", {"backend": "remote"}) == 0.0
        )
    finally:
        store.close()


def test_4xx_is_permanent(failing_server: tuple[str, type[_Failing]]) -> None:
    url, handler = failing_server
    handler.fail_first, handler.status = 100, 400
    sleeps: list[float] = []
    store = _store(url, CollectorRegistry(), sleeps)
    try:
        ref = store.series_ref(labels_from({"__name__": "m"}))
        with pytest.raises(RemoteWriteError, match="HTTP 400"):
            store.append([ref], [1000], [1.0])
        assert handler.hits == 1 and sleeps == []
    finally:
        store.close()


def test_unreachable_server() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    sleeps: list[float] = []
    store = _store(url, CollectorRegistry(), sleeps, retries=1)
    try:
        ref = store.series_ref(labels_from({"__name__": "m"}))
        with pytest.raises(RemoteWriteError) as wexc:
            store.append([ref], [1000], [1.0])
        assert isinstance(wexc.value.__cause__, urllib3.exceptions.HTTPError)
        assert sleeps == [0.5]
        with pytest.raises(RemoteReadError) as rexc:
            store.select([Matcher("__name__", MatchOp.EQ, "m")], 0, 1)
        assert isinstance(rexc.value.__cause__, httpx.HTTPError)
    finally:
        store.close()
