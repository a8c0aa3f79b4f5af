"""The retry policy, written once, around every notifier (Alertmanager's ``notify.RetryStage``).

A :class:`~alerting.base.NotifyResult` decides: ``ok`` is done; ``retry=True`` (5xx, timeouts, connection
errors) is retried with exponential backoff and jitter until :attr:`RetryPolicy.deadline_s` (or
``max_attempts``); ``retry=False`` (other 4xx, rejected recipients, template errors) is permanent. A notifier
raising :class:`~alerting.base.AlertingError` counts as a permanent failure; any other exception is a bug and
propagates. Each attempt is bounded by the time left before the deadline.

Time is injected: ``clock`` (monotonic seconds), ``sleep`` (awaitable) and ``rng`` (``[0, 1)``) so tests can
drive the schedule without waiting. Safe to call concurrently for different notifications.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from alerting.base import AlertingError, Notifier, NotifyResult
from alerting.model import Notification
from alerting.notify._metrics import DeliveryMetrics, reason_category

__all__ = ["RetryPolicy", "backoff_delays", "deliver"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2  # each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter]
    deadline_s: float = 120.0  # give up when the next attempt would start after this (from the first)
    max_attempts: int = 0  # 0: bounded by the deadline only

    def delay(self, retry_number: int, rand: float) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based), given ``rand`` in ``[0, 1)``."""
        base = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier ** (retry_number - 1))
        return max(0.0, base * (1.0 + self.jitter * (2.0 * rand - 1.0)))


def backoff_delays(policy: RetryPolicy, n: int, rng: Callable[[], float] = random.random) -> list[float]:
    """The first ``n`` delays of ``policy`` (for docs and tests)."""
    return [policy.delay(i, rng()) for i in range(1, n + 1)]


async def _attempt(notifier: Notifier, notification: Notification, budget_s: float) -> NotifyResult:
    try:
        async with asyncio.timeout(budget_s):
            return await notifier.notify(notification)
    except TimeoutError:
        return NotifyResult(ok=False, retry=True, reason=f"timeout: no answer within {budget_s:.3g}s")
    except AlertingError as exc:
        log.warning("notifier %s failed: %s", type(notifier).__name__, exc, exc_info=exc)
        return NotifyResult(ok=False, retry=False, reason=f"error: {exc}")


async def deliver(
    notifier: Notifier,
    notification: Notification,
    policy: RetryPolicy | None = None,
    *,
    receiver: str | None = None,
    metrics: DeliveryMetrics | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
) -> NotifyResult:
    """Deliver ``notification`` through ``notifier`` with retries; the last attempt's result is returned
    (its ``reason`` prefixed with ``deadline`` when the policy gave up on a retryable failure).
    ``receiver`` labels the metrics (default: ``notification.receiver``)."""
    policy = policy or RetryPolicy()
    name = receiver if receiver is not None else notification.receiver
    if metrics is not None:
        metrics.received.labels(name).inc()
    start = clock()
    attempt = 0
    while True:
        attempt += 1
        budget = max(policy.deadline_s - (clock() - start), 0.001)
        t0 = clock()
        result = await _attempt(notifier, notification, budget)
        if metrics is not None:
            metrics.attempts.labels(name).inc()
            metrics.latency.labels(name).observe(max(clock() - t0, 0.0))
        if result.ok:
            if metrics is not None:
                metrics.sent.labels(name).inc()
            return result
        category = reason_category(result.reason)
        if metrics is not None:
            metrics.errors.labels(name, category).inc()
        if not result.retry:
            log.warning("notification to %s failed permanently: %s", name, result.reason)
            if metrics is not None:
                metrics.dropped.labels(name, category).inc()
            return result
        delay = policy.delay(attempt, rng())
        out_of_attempts = policy.max_attempts > 0 and attempt >= policy.max_attempts
        if out_of_attempts or clock() - start + delay >= policy.deadline_s:
            log.warning("notification to %s given up after %d attempts: %s", name, attempt, result.reason)
            if metrics is not None:
                metrics.dropped.labels(name, "deadline").inc()
            return NotifyResult(
                ok=False, retry=False, reason=f"deadline: {attempt} attempts, last {result.reason}"
            )
        log.info("notification to %s failed (%s), retry %d in %.2fs", name, result.reason, attempt, delay)
        await sleep(delay)
