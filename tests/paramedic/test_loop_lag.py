"""``paramedic.loop_lag.LoopLagMonitor``: a loop held by a synchronous call shows in the lag histogram."""

from __future__ import annotations

import asyncio
import time

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
