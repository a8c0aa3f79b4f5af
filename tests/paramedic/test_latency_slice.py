"""paramedic.latency_slice: the event loop's short slice is applied, logged, shown; a refusal is harmless."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from metrics_store.sched_slice import SliceError, get_thread_slice_ns
from paramedic import latency_slice
from paramedic.assembly import Paramedic
from paramedic.config import parse_config
from paramedic.latency_slice import LatencySlice
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


@needs_slices
def test_the_server_s_log_ingest_and_background_threads_give_the_slice_back(tmp_path: Path) -> None:
    """Threads the lifespan starts after asking: log ingest and retention are background work a waking read
    may preempt, so they run at the kernel's default slice while the event loop keeps the short one."""
    cfg = parse_config(
        "server: {auth: {anonymous_read: true}}\nmetrics_store: {type: embedded, path: m}\n"
        "logs: {relp: {port: 0}, syslog_tcp: {port: 0}, syslog_udp: null, spool: {path: spool},\n"
        "  search: {type: embedded, path: search}, search_api: {search_processes: 1}}\n"
    )
    default = in_thread(get_thread_slice_ns)
    registry = CollectorRegistry()
    server = Paramedic(cfg, base_dir=tmp_path, registry=registry)
    with TestClient(server.app, base_url="http://127.0.0.1"):
        assert gauge(registry) == pytest.approx(0.0005)
        threads = {t.name: t.native_id for t in threading.enumerate()}
        for name in ("log-consumer", "log-retention"):
            tid = threads[name]
            assert tid is not None
            # each gives it back as its first step, which may come just after the lifespan's start
            deadline = time.monotonic() + 10
            while get_thread_slice_ns(tid) != default and time.monotonic() < deadline:
                time.sleep(0.005)
            assert get_thread_slice_ns(tid) == default, name
