"""paramedic.latency_slice: the event loop's short slice is applied, logged, shown; a refusal is harmless."""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from metrics_store.sched_slice import SliceError, get_thread_slice_ns
from paramedic import latency_slice
from paramedic.assembly import Paramedic
from paramedic.auth import TokenStore
from paramedic.config import parse_config
from paramedic.latency_slice import LatencySlice
from tests.collector.push.rw import V1_HEADERS, snappy, v1
from tests.metrics_store.test_sched_slice import in_thread, needs_slices


def gauge(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("paramedic_event_loop_slice_seconds")


@needs_slices
def test_the_slice_is_applied_logged_and_shown(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    caplog.set_level(logging.INFO, logger="paramedic.latency_slice")
    kept, now = in_thread(lambda: (LatencySlice(registry).apply(500), get_thread_slice_ns()))
    assert kept == now == 500_000
    assert gauge(registry) == pytest.approx(0.0005)
    assert "CPU slice: 500 us for the event-loop thread" in caplog.text


@needs_slices
def test_zero_leaves_the_kernel_default(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    caplog.set_level(logging.INFO, logger="paramedic.latency_slice")
    before, kept, after = in_thread(
        lambda: (get_thread_slice_ns(), LatencySlice(registry).apply(0), get_thread_slice_ns())
    )
    assert kept == 0 and after == before
    assert gauge(registry) == 0
    assert "kernel default (server.latency_slice_us is 0)" in caplog.text


def test_a_refusal_is_logged_once_and_harmless(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(slice_ns: int, tid: int | None = None) -> int:
        raise SliceError(1, "sched_setattr(1234, runtime=500000): Operation not permitted")

    monkeypatch.setattr(latency_slice, "set_thread_slice", refuse)
    registry = CollectorRegistry()
    assert LatencySlice(registry).apply(500) == 0
    assert gauge(registry) == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "a short slice was not applied" in warnings[0].getMessage()
    assert "Operation not permitted" in warnings[0].getMessage()


@needs_slices
@pytest.mark.parametrize(("setting", "expected_s"), [("", 0.0005), ("latency_slice_us: 0, ", 0.0)])
def test_the_server_applies_its_setting_at_start(tmp_path: Path, setting: str, expected_s: float) -> None:
    cfg = parse_config(
        f"server: {{{setting}auth: {{anonymous_read: true}}}}\nmetrics_store: {{type: embedded, path: m}}\n"
    )
    registry = CollectorRegistry()
    server = Paramedic(cfg, base_dir=tmp_path, registry=registry)
    assert gauge(registry) == 0  # nothing asked before the lifespan
    with TestClient(server.app, base_url="http://127.0.0.1"):
        assert gauge(registry) == pytest.approx(expected_s)


# The only threads of a serving process that keep the event loop's short slice: the loop itself, the AnyIO
# worker threads it starts for a read's synchronous part, and the threads that wait for a search worker's
# answer. Any other thread the server starts (a new pool, a new background loop) fails the test below until it
# gives the slice back or is added here on purpose.
SHORT_SLICE_ALLOWED = ("AnyIO worker thread", "log-search-wait")

WIRING_CONFIG = """
server: {auth: {tokens_file: tokens.json, anonymous_read: true}}
metrics_store: {type: embedded, path: m}
logs: {relp: {port: 0}, syslog_tcp: {port: 0}, syslog_udp: null, spool: {path: spool},
  search: {type: embedded, path: search}, search_api: {search_processes: 1}}
collector:
  jobs: [{name: nowhere, type: static, targets: ["127.0.0.1:9"], interval_s: 1}]
"""


def thread_names() -> dict[int, str]:
    """Every thread of this process by native id: Python's name where it has one, else the kernel's comm."""
    named = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
    out: dict[int, str] = {}
    for task in Path("/proc/self/task").iterdir():
        tid = int(task.name)
        try:
            out[tid] = named.get(tid) or (task / "comm").read_text().strip()
        except FileNotFoundError:  # the thread ended while listed
            continue
    return out


def short_slice_threads(slice_ns: int) -> dict[int, str]:
    """The threads of this process whose slice is ``slice_ns`` (threads that end while read are skipped)."""
    out: dict[int, str] = {}
    for tid, name in thread_names().items():
        try:
            if get_thread_slice_ns(tid) == slice_ns:
                out[tid] = name
        except SliceError as exc:
            if exc.errno != errno.ESRCH:
                raise
    return out


@needs_slices
def test_only_the_loop_and_the_read_threads_keep_the_short_slice(tmp_path: Path) -> None:
    """A real serve after a log search, a query, syslog lines and a remote-write push: every thread of the
    process but the allow-listed ones runs at the kernel's default slice (scrape pool, spool appends, pattern
    stats, asyncio's default executor for remote-write decoding, log consumer and retention...)."""
    registry = CollectorRegistry()
    server = Paramedic(parse_config(WIRING_CONFIG), base_dir=tmp_path, registry=registry)
    writer = TokenStore(tmp_path / "tokens.json").create("writer", "metrics-writer")
    with TestClient(server.app, base_url="http://127.0.0.1") as client:
        assert client.portal is not None
        loop_tid = client.portal.call(threading.get_native_id)
        assert gauge(registry) == pytest.approx(0.0005)
        assert server.logs is not None
        port = server.logs.receivers.ports["tcp"]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            for i in range(20):
                line = f"<14>1 2026-12-07T19:00:00Z host app - - - line {i}"
                sock.sendall(f"{len(line)} {line}".encode())
        body = snappy(v1([({"__name__": "rw_wiring", "job": "push"}, [(int(time.time() * 1000), 1.0)])]))
        r = client.post(
            "/api/v1/write", content=body, headers={**V1_HEADERS, "Authorization": f"Bearer {writer}"}
        )
        assert r.status_code == 204, r.text
        assert client.get("/api/v1/query", params={"query": "up"}).status_code == 200
        assert client.get("/api/v1/logs/search", params={"q": "line", "limit": 10}).status_code == 200
        expected = (
            "scrape",
            "spool-append",
            "asyncio_",
            "pattern-stats-flush",
            "log-consumer",
            "log-retention",
        )
        deadline = time.monotonic() + 10  # the first scrape comes within its 1 s interval
        while True:
            names = set(thread_names().values())
            missing = [p for p in expected if not any(n.startswith(p) for n in names)]
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert not missing, (missing, sorted(names))
        # each background thread gives the slice back as its first step: poll for the stragglers
        deadline = time.monotonic() + 10
        while True:
            short = short_slice_threads(500_000)
            stray = {
                tid: name
                for tid, name in short.items()
                if tid != loop_tid and not name.startswith(SHORT_SLICE_ALLOWED)
            }
            if not stray or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert not stray, f"threads that inherited the event loop's short slice: {sorted(stray.values())}"
        assert loop_tid in short
        assert any(name.startswith("AnyIO worker thread") for name in short.values()), short
