"""``paramedic.loop_lag.LoopLagMonitor``: a loop held by a synchronous call shows in the lag histogram."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from prometheus_client import CollectorRegistry

from paramedic.loop_lag import LoopLagMonitor

NAME = "paramedic_event_loop_lag_seconds"


def _count(registry: CollectorRegistry, le: str) -> float:
    value = registry.get_sample_value(f"{NAME}_bucket", {"le": le})
    assert value is not None
    return value


async def _observations(registry: CollectorRegistry, at_least: float, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while _count(registry, "+Inf") < at_least:
        assert time.monotonic() < deadline, "the monitor observed nothing"
        await asyncio.sleep(0.02)


async def test_a_held_loop_counts_as_a_stall_of_that_length() -> None:
    registry = CollectorRegistry()
    monitor = LoopLagMonitor(registry, interval_s=0.02)
    await monitor.start()
    await monitor.start()  # idempotent: one task
    try:
        await _observations(registry, 1)
        before = _count(registry, "+Inf") - _count(registry, "1.0")
        time.sleep(1.3)  # holds the event loop, as a synchronous flush in a coroutine would
        seen = _count(registry, "+Inf")
        await _observations(registry, seen + 1)
        assert _count(registry, "+Inf") - _count(registry, "1.0") == before + 1
    finally:
        await monitor.stop()
        await monitor.stop()


async def test_stop_without_start_then_start_again_after_stop() -> None:
    registry = CollectorRegistry()
    monitor = LoopLagMonitor(registry, interval_s=0.01)
    await monitor.stop()
    await monitor.start()
    await _observations(registry, 2)
    await monitor.stop()
    await monitor.start()
    try:
        await _observations(registry, _count(registry, "+Inf") + 2)
    finally:
        await monitor.stop()


async def test_a_long_stall_is_logged_once_a_minute_at_most(caplog: pytest.LogCaptureFixture) -> None:
    monitor = LoopLagMonitor(CollectorRegistry(), warn_s=0.5)
    with caplog.at_level(logging.WARNING, logger="paramedic.loop_lag"):
        monitor.observe(0.4, now=100.0)  # under warn_s: counted, not logged
        monitor.observe(1.5, now=101.0)
        monitor.observe(2.0, now=130.0)  # within the minute: not logged again
        monitor.observe(0.7, now=162.0)
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "the event loop ran 1.50 s late: every request waited that long",
        "the event loop ran 0.70 s late: every request waited that long",
    ]
