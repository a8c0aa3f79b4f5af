"""``paramedic_event_loop_lag_seconds``: CPU left on the event loop shows as lag; a long stall is logged."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from prometheus_client import CollectorRegistry

from paramedic.loop_lag import LoopLagMonitor


def _count(registry: CollectorRegistry, le: str | None = None) -> float:
    if le is None:
        return registry.get_sample_value("paramedic_event_loop_lag_seconds_count") or 0.0
    return registry.get_sample_value("paramedic_event_loop_lag_seconds_bucket", {"le": le}) or 0.0


async def test_a_blocked_loop_is_measured_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    monitor = LoopLagMonitor(registry, interval_s=0.01, warn_s=0.2)
    await monitor.start()
    try:
        deadline = time.monotonic() + 10
        while _count(registry) < 3:  # the ticker runs
            assert time.monotonic() < deadline, "the ticker never ran"
            await asyncio.sleep(0.01)
        with caplog.at_level(logging.WARNING, logger="paramedic.loop_lag"):
            busy_until = time.monotonic() + 0.4
            while time.monotonic() < busy_until:  # CPU on the loop: nothing else runs meanwhile
                pass
            before = _count(registry)
            while _count(registry) == before:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
    finally:
        await monitor.stop()
    assert _count(registry) - _count(registry, "0.25") >= 1  # one tick at least 0.25 s late
    assert any("event loop ran" in r.getMessage() for r in caplog.records)


async def test_stop_ends_the_ticker() -> None:
    registry = CollectorRegistry()
    monitor = LoopLagMonitor(registry, interval_s=0.01)
    await monitor.start()
    await monitor.stop()
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "event-loop-lag"]
