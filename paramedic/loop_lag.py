"""The event loop's own lag: how late a timer that asked to wake every ``interval_s`` actually woke.

Anything that holds the event loop (a long synchronous call in a coroutine, a big encode) delays every
request, every scrape and every log read behind it. :class:`LoopLagMonitor` measures that from inside the
process: a task sleeps ``interval_s`` and observes how much later than asked it ran again in the histogram
``paramedic_event_loop_lag_seconds``. The bucket counts say how often the loop was held longer than each
bound, whenever it happened — not only when some client happened to ask — and a client's answer time adds
its own scheduling delays on a loaded machine, which this does not. A lag of ``warn_s`` or more is also
logged as a warning (at most once a minute), so a stall shows in the log at 3 a.m. as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Histogram

__all__ = ["LAG_BUCKETS_S", "LoopLagMonitor"]

log = logging.getLogger(__name__)

LAG_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LoopLagMonitor:
    """Observes the event loop's lag every ``interval_s``; ``start``/``stop`` are idempotent."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        interval_s: float = 0.1,
        warn_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self._warn_s = warn_s
        self._last_warning = float("-inf")
        self._clock = clock
        self.lag = Histogram(
            "paramedic_event_loop_lag_seconds",
            "How much later than asked a periodic timer on the event loop ran (the loop was held that long).",
            buckets=LAG_BUCKETS_S,
            registry=registry,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            asked = self._clock() + self.interval_s
            await asyncio.sleep(self.interval_s)
            now = self._clock()
            self.observe(max(0.0, now - asked), now)

    def observe(self, lag_s: float, now: float) -> None:
        self.lag.observe(lag_s)
        if lag_s >= self._warn_s and now - self._last_warning >= 60.0:
            self._last_warning = now
            log.warning("the event loop ran %.2f s late: every request waited that long", lag_s)
