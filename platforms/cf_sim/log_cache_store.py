"""The simulated Log Cache's envelope store: every point a producer emits, bounded per source id.

A :class:`Point` is one Loggregator v2 envelope reduced to what Log Cache's PromQL API exposes: ``source_id``,
a metric ``name`` (already in Log Cache's PromQL spelling: ``.`` and ``-`` replaced by ``_``), a value, a
time and the envelope's tags. ``kind`` is the envelope type: ``gauge``, ``counter`` (value = the counter's
running total, as Log Cache exposes it) or ``timer`` (value = stop - start in nanoseconds; ``time_s`` is
the stop).

:class:`EnvelopeStore` keeps, like Log Cache, the newest ``max_per_source`` envelopes of each source id (an
older one is evicted and counted: ``paramedic_cf_sim_log_cache_evictions_total``) and at most ``max_sources``
source ids (a point for one more is dropped and counted). It answers ``/api/v1/meta`` and
``/api/v1/read``. Thread-safe: producers append from the collector thread, the API reads from its workers.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge

from platforms.instrument import per_registry

__all__ = ["ENVELOPE_KINDS", "EnvelopeStore", "Point", "log_cache_name"]

ENVELOPE_KINDS = ("gauge", "counter", "timer")
_NAME_FIX = re.compile(r"[.\-]")


def log_cache_name(envelope_name: str) -> str:
    """Log Cache's PromQL name of an envelope name: every ``.`` and ``-`` becomes ``_``."""
    return _NAME_FIX.sub("_", envelope_name)


@dataclass(frozen=True, slots=True)
class Point:
    source_id: str
    name: str
    value: float
    time_s: float
    tags: Mapping[str, str] = field(default_factory=dict)
    kind: str = "gauge"
    unit: str = ""

    @property
    def time_ns(self) -> int:
        return round(self.time_s * 1e9)


@dataclass(frozen=True, slots=True)
class _StoreMetrics:
    stored: Counter
    evictions: Counter
    dropped: Counter
    sources: Gauge


def _build_metrics(registry: CollectorRegistry) -> _StoreMetrics:
    return _StoreMetrics(
        stored=Counter(
            "paramedic_cf_sim_log_cache_points",
            "Points the simulated Log Cache stored.",
            registry=registry,
        ),
        evictions=Counter(
            "paramedic_cf_sim_log_cache_evictions",
            "Points evicted because their source id held max_per_source points.",
            registry=registry,
        ),
        dropped=Counter(
            "paramedic_cf_sim_log_cache_dropped",
            "Points dropped because the store held max_sources source ids.",
            registry=registry,
        ),
        sources=Gauge(
            "paramedic_cf_sim_log_cache_source_ids", "Source ids the store holds.", registry=registry
        ),
    )


_store_metrics = per_registry(_build_metrics)


class EnvelopeStore:
    """Newest ``max_per_source`` points per source id, at most ``max_sources`` source ids."""

    def __init__(
        self, *, max_per_source: int = 100_000, max_sources: int = 1_000, registry: CollectorRegistry
    ) -> None:
        if max_per_source < 1 or max_sources < 1:
            raise ValueError("max_per_source and max_sources must be >= 1")
        self.max_per_source = max_per_source
        self.max_sources = max_sources
        self._points: dict[str, deque[Point]] = {}
        self._expired: dict[str, int] = {}
        self._lock = threading.Lock()
        self._metrics = _store_metrics(registry)
        self.stored_total = 0  # points ever stored (Log Cache's own ``ingress``)
        self.expired_total = 0  # points evicted (Log Cache's own ``expired``)

    def append(self, points: Iterable[Point]) -> list[Point]:
        """Store ``points``; returns those stored (a point for a source id beyond the cap is dropped)."""
        kept: list[Point] = []
        with self._lock:
            for p in points:
                q = self._points.get(p.source_id)
                if q is None:
                    if len(self._points) >= self.max_sources:
                        self._metrics.dropped.inc()
                        continue
                    q = self._points[p.source_id] = deque()
                    self._expired[p.source_id] = 0
                if len(q) >= self.max_per_source:
                    q.popleft()
                    self._expired[p.source_id] += 1
                    self.expired_total += 1
                    self._metrics.evictions.inc()
                q.append(p)
                kept.append(p)
            self._metrics.sources.set(len(self._points))
            self.stored_total += len(kept)
        self._metrics.stored.inc(len(kept))
        return kept

    def meta(self) -> dict[str, dict[str, str]]:
        """``/api/v1/meta``'s ``meta`` object: per source id count, expired, oldest/newest time (ns)."""
        with self._lock:
            return {
                sid: {
                    "count": str(len(q)),
                    "expired": str(self._expired[sid]),
                    "oldestTimestamp": str(min(p.time_ns for p in q)) if q else "0",
                    "newestTimestamp": str(max(p.time_ns for p in q)) if q else "0",
                }
                for sid, q in sorted(self._points.items())
            }

    def read(
        self,
        source_id: str,
        start_ns: int,
        end_ns: int,
        limit: int,
        kinds: frozenset[str] = frozenset(ENVELOPE_KINDS),
        descending: bool = False,
    ) -> list[Point]:
        """Points of ``source_id`` with ``start_ns <= time < end_ns``, oldest first (at most ``limit``)."""
        with self._lock:
            q = list(self._points.get(source_id, ()))
        found = sorted(
            (p for p in q if start_ns <= p.time_ns < end_ns and p.kind in kinds), key=lambda p: p.time_ns
        )
        return found[::-1][:limit] if descending else found[:limit]

    def oldest_s(self) -> float | None:
        """Time of the oldest point held (Log Cache's ``cache_period`` is now minus this)."""
        with self._lock:
            firsts = [q[0].time_s for q in self._points.values() if q]
        return min(firsts) if firsts else None

    def source_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._points)
