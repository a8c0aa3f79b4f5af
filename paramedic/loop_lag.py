"""How late the event loop runs what is due: ``paramedic_event_loop_lag_seconds``.

Every request, health check, scrape schedule and alert flush goes through one asyncio event loop; CPU work
left on it (or a worker thread holding the GIL) delays all of them at once. A ticker due every ``interval_s``
records how late it woke; a lag over ``warn_s`` is logged (at most once a minute) so the operator sees a
stall in the log as well as in the histogram.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from prometheus_client import CollectorRegistry, Histogram

__all__ = ["LoopLagMonitor"]

log = logging.getLogger(__name__)

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class LoopLagMonitor:
    def __init__(self, registry: CollectorRegistry, *, interval_s: float = 0.25, warn_s: float = 1.0) -> None:
        self.lag = Histogram(
            "paramedic_event_loop_lag_seconds",
            "How late the server's event loop ran a timer due every 0.25 s (CPU on the loop, or the GIL "
            "held by a worker thread, delays every request by this much).",
            buckets=_BUCKETS,
            registry=registry,
        )
        self._interval_s = interval_s
        self._warn_s = warn_s
        self._task: asyncio.Task[None] | None = None
        self._last_warning = float("-inf")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def observe(self, lag_s: float, now: float) -> None:
        self.lag.observe(lag_s)
        if lag_s >= self._warn_s and now - self._last_warning >= 60.0:
            self._last_warning = now
            log.warning("the event loop ran %.2f s late: every request waited that long", lag_s)

    async def _run(self) -> None:
        while True:
            due = time.monotonic() + self._interval_s
            await asyncio.sleep(self._interval_s)
            now = time.monotonic()
            self.observe(max(0.0, now - due), now)
