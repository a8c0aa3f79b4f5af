"""The sample app: fault state machine (driven clock) and the real HTTP server."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from platforms.local.sample_app import FaultRequestError, FaultState, SampleApp, parse_fault, route_of
from tests.support.servers import ManagedProcess, free_port, wait_http, wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fault_expires_after_for_s_on_the_injected_clock() -> None:
    clock = Clock()
    faults = FaultState(clock)
    faults.set(parse_fault({"kind": "errors", "rate": 0.25, "for_s": 10}, clock()))
    faults.set(parse_fault({"kind": "latency"}, clock()))
    errors = faults.active("errors")
    assert errors is not None and errors.rate == 0.25
    clock.now += 9.9
    assert faults.active("errors") is not None
    clock.now += 0.1
    assert faults.active("errors") is None
    latency = faults.active("latency")
    assert latency is not None and latency.delay_ms == 500  # no for_s: until cleared
    faults.clear()
    assert faults.all_active() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "explode"}, "kind must be one of errors, latency, crash, leak, hang"),
        ({"kind": "errors", "rate": 2}, "rate must be a number in [0, 1]"),
        ({"kind": "latency", "delay_ms": "x"}, "delay_ms must be a number"),
        ({"kind": "hang", "for_s": -1}, "for_s must be a number"),
        ({"kind": "hang", "forever": True}, "unknown keys: forever"),
        ([1], "body must be a JSON object"),
    ],
)
def test_bad_fault_requests_are_refused(body: object, message: str) -> None:
    with pytest.raises(FaultRequestError) as exc:
        parse_fault(body, 0.0)
    assert message in str(exc.value)


def test_route_templates_bound_label_values() -> None:
    assert [route_of(p) for p in ("/", "/api/items/42?x=1", "/api/items", "/wp-admin", "/metrics")] == [
        "/",
        "/api/items/{id}",
        "/api/items",
        "other",
        "/metrics",
    ]


@pytest.fixture
def app() -> Iterator[SampleApp]:
    sample = SampleApp("checkout", 2, free_port())
    thread = threading.Thread(target=sample.serve_forever, daemon=True)
    thread.start()
    wait_http(f"http://127.0.0.1:{sample.port}/healthz")
    yield sample
    sample.shutdown()
    sample.faults.clear()
    thread.join(10)


def _sample(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_count_requests_by_route_and_code(app: SampleApp) -> None:
    base = f"http://127.0.0.1:{app.port}"
    assert httpx.get(f"{base}/api/items/7").json()["id"] == 7
    assert httpx.get(f"{base}/api/items/5000").status_code == 404
    assert httpx.post(f"{base}/api/orders", json={"item": 1}).status_code == 201
    assert httpx.get(f"{base}/").headers["X-App-Instance"] == "checkout/2"
    text = httpx.get(f"{base}/metrics").text
    assert _sample(text, "http_requests_total", route="/api/items/{id}", code="200", method="GET") == 1
    assert _sample(text, "http_requests_total", route="/api/items/{id}", code="404") == 1
    assert _sample(text, "http_requests_total", route="/api/orders", code="201", method="POST") == 1
    assert _sample(text, "http_request_duration_seconds_count", route="/") == 1
    assert _sample(text, "app_info", version="1.0.0") == 1


def test_errors_and_latency_faults_hit_business_routes_only(app: SampleApp) -> None:
    base = f"http://127.0.0.1:{app.port}"
    reply = httpx.post(f"{base}/_fault", json={"kind": "errors", "rate": 1.0}).json()
    assert reply["injected"]["kind"] == "errors"
    assert httpx.get(f"{base}/api/items").status_code == 500
    assert httpx.get(f"{base}/healthz").status_code == 200
    httpx.post(f"{base}/_fault", json={"kind": "latency", "delay_ms": 300})
    assert httpx.get(f"{base}/api/items", timeout=5).elapsed.total_seconds() >= 0.3
    text = httpx.get(f"{base}/metrics").text
    assert _sample(text, "app_errors_total", route="/api/items", reason="injected") == 2
    assert _sample(text, "app_fault_active", kind="latency") == 1
    assert _sample(text, "http_request_duration_seconds_bucket", route="/api/items", le="0.25") == 1
    assert httpx.delete(f"{base}/_fault").json() == {"cleared": True}
    assert httpx.get(f"{base}/api/items").status_code == 200


def test_hang_with_for_s_stops_everything_then_recovers(app: SampleApp) -> None:
    base = f"http://127.0.0.1:{app.port}"
    httpx.post(f"{base}/_fault", json={"kind": "hang", "for_s": 1.5})
    with pytest.raises(httpx.TimeoutException):
        httpx.get(f"{base}/metrics", timeout=0.5)
    wait_until(lambda: _answers(f"{base}/metrics"), 10, "the hang to end after for_s")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def test_leak_grows_memory_and_frees_it_when_cleared(app: SampleApp) -> None:
    base = f"http://127.0.0.1:{app.port}"
    httpx.post(f"{base}/_fault", json={"kind": "leak", "rate": 8})

    def leaked() -> float:
        return _sample(httpx.get(f"{base}/metrics").text, "app_leaked_bytes")

    wait_until(lambda: leaked() >= 4 * 1024 * 1024, 10, "4 MiB leaked")
    httpx.delete(f"{base}/_fault")
    wait_until(lambda: leaked() == 0, 10, "the leak to be freed")


def test_crash_fault_exits_the_process_with_status_1(tmp_path: Path) -> None:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "platforms.local.sample_app",
        "--port",
        str(port),
        "--app",
        "a",
        "--index",
        "0",
    ]
    proc = ManagedProcess("sample-app", argv, tmp_path / "app.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        assert httpx.post(f"http://127.0.0.1:{port}/_fault", json={"kind": "crash"}).status_code == 202
        assert proc.popen.wait(10) == 1
    finally:
        proc.stop()
