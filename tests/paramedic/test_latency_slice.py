"""paramedic.latency_slice: the event loop's short slice is applied, logged, shown; a refusal is harmless."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from metrics_store.sched_slice import SliceError, get_thread_slice_ns
from paramedic import latency_slice
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
