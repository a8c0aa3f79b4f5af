"""The CC request budget: one token bucket shared by discovery and remediation.

* ``rate_per_s`` tokens refill per second up to ``burst``; every CC call (each attempt, retries included)
  takes one token and waits when there is none.
* Priority: a call made inside :func:`discovery_priority` must leave ``reserve`` tokens in the bucket, so when
  the budget is tight discovery waits and remediation calls (every other call) still go through at once.
* :meth:`RequestBudget.pause_until` (a 429's ``Retry-After``) holds every call until then.
* :meth:`RequestBudget.observe_remaining` (the CC's ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset``) lowers
  the pace to what is left of the window (never above ``rate_per_s``); 0 remaining pauses until the reset.

Waits are counted in ``paramedic_cf_throttled_waits_total{priority}`` and
``paramedic_cf_throttled_wait_seconds_total{priority}``; the pace is ``paramedic_cf_request_rate_per_second``.
Thread-safe; the clock and sleep are injected (tests drive time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from platforms.cloudfoundry._metrics import CFMetrics

__all__ = ["RequestBudget", "current_priority", "discovery_priority"]

_PRIORITY: ContextVar[str] = ContextVar("paramedic_cf_priority", default="remediation")
_MIN_RATE = 0.05  # calls/s: the slowest pace X-RateLimit-Remaining can impose while calls remain


@contextmanager
def discovery_priority() -> Iterator[None]:
    """CC calls made inside this block are discovery's: they leave the reserve to remediation."""
    token = _PRIORITY.set("discovery")
    try:
        yield
    finally:
        _PRIORITY.reset(token)


def current_priority() -> str:
    return _PRIORITY.get()


class RequestBudget:
    """A token bucket with a discovery reserve, a pause (Retry-After) and an adaptive pace."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        reserve: int,
        metrics: CFMetrics,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._max_rate = rate_per_s
        self._rate = rate_per_s
        self._burst = float(burst)
        self._reserve = float(min(reserve, max(0, burst - 1)))
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._stamp = clock()
        self._paused_until = 0.0
        metrics.request_rate.set(rate_per_s)

    @property
    def rate(self) -> float:
        return self._rate

    def _refill(self, now: float) -> None:
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    def _wait_needed(self, floor: float) -> float:
        """0 after taking a token; else the seconds to wait before trying again (lock held)."""
        now = self._clock()
        self._refill(now)
        if now < self._paused_until:
            return self._paused_until - now
        if self._tokens - 1.0 >= floor - 1e-9:
            self._tokens -= 1.0
            return 0.0
        return max(1e-3, (floor + 1.0 - self._tokens) / self._rate)

    def acquire(self) -> float:
        """Take one token, waiting as long as needed; returns the seconds waited."""
        priority = _PRIORITY.get()
        floor = self._reserve if priority == "discovery" else 0.0
        waited = 0.0
        while True:
            with self._lock:
                wait = self._wait_needed(floor)
            if wait <= 0:
                break
            if waited == 0.0:
                self._metrics.throttled_waits.labels(priority).inc()
            self._metrics.throttled_seconds.labels(priority).inc(wait)
            waited += wait
            self._sleep(wait)
        return waited

    def pause_until(self, until: float) -> None:
        """Hold every call until ``until`` (clock time), e.g. a 429's Retry-After."""
        with self._lock:
            self._paused_until = max(self._paused_until, until)

    def observe_remaining(self, remaining: int, reset_in_s: float | None) -> None:
        """Pace the calls so the ``remaining`` ones of the CC's rate-limit window last until its reset."""
        with self._lock:
            if reset_in_s is None or reset_in_s <= 0:
                # no reset known: slow down in proportion once fewer calls remain than a burst
                share = min(1.0, remaining / self._burst)
                self._rate = max(_MIN_RATE, self._max_rate * share)
            elif remaining <= 0:
                self._paused_until = max(self._paused_until, self._clock() + reset_in_s)
                self._rate = self._max_rate
            else:
                self._rate = max(_MIN_RATE, min(self._max_rate, remaining / reset_in_s))
            self._metrics.request_rate.set(self._rate)
