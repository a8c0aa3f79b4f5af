"""One collector loop: every ``interval_s`` each producer's ``sample(now)`` goes into Log Cache.

Producers (:class:`Producer`: gorouter, Diego, components) are called in order from one thread; a producer
that raises is counted and skipped for that round, the loop keeps going. Metrics:
``paramedic_cf_sim_points_total{producer}`` (points stored) and
``paramedic_cf_sim_producer_errors_total{producer,reason}``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter

from platforms.cf_sim.log_cache import LogCache
from platforms.cf_sim.log_cache_store import Point
from platforms.instrument import per_registry

__all__ = ["MetricsCollector", "Producer"]

log = logging.getLogger("platforms.cf_sim.collector")


class Producer(Protocol):
    """Emits the points observed since the last call, stamped ``now`` (or their own event times)."""

    def sample(self, now: float) -> list[Point]: ...


@dataclass(frozen=True, slots=True)
class _CollectorMetrics:
    points: Counter
    errors: Counter


def _build(registry: CollectorRegistry) -> _CollectorMetrics:
    return _CollectorMetrics(
        Counter(
            "paramedic_cf_sim_points",
            "Points stored in Log Cache, by producer.",
            ["producer"],
            registry=registry,
        ),
        Counter(
            "paramedic_cf_sim_producer_errors",
            "Producer rounds that failed, by producer and exception type.",
            ["producer", "reason"],
            registry=registry,
        ),
    )


_collector_metrics = per_registry(_build)


class MetricsCollector:
    def __init__(
        self,
        producers: Sequence[tuple[str, Producer]],
        cache: LogCache,
        *,
        interval_s: float = 1.0,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"cf_sim collector: interval_s: must be > 0, got {interval_s}")
        self.producers = list(producers)
        self.cache = cache
        self.interval_s = interval_s
        self._clock = clock
        self._metrics = _collector_metrics(registry)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def collect_once(self) -> int:
        """Sample every producer once and store the points; returns how many were stored."""
        now = self._clock()
        total = 0
        for name, producer in self.producers:
            try:
                stored = self.cache.append(producer.sample(now))
            except Exception as exc:  # one failing producer must not stop the others; counted and logged
                self._metrics.errors.labels(name, type(exc).__name__).inc()
                log.warning("cf_sim producer %s failed: %s", name, exc)
                continue
            self._metrics.points.labels(name).inc(stored)
            total += stored
        self.rounds += 1
        return total

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cf-sim-collector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while True:
            started = time.monotonic()
            self.collect_once()
            if self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started))):
                return
