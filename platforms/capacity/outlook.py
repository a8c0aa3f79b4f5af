"""The capacity outlook of the foundation: :func:`capacity_outlook` reads the cells from the metrics store and
puts the arithmetic (:mod:`.model`) and the growth fit (:mod:`.forecast`) together.

Foundation data: no tenant may read it (the API and the page refuse scoped principals); it is read with the
foundation's querier.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from metrics_store.base import Querier
from metrics_store.promql import Engine, Matrix, Scalar, Vector
from metrics_store.promql.errors import QueryError
from platforms.capacity.forecast import GrowthFit, crossing_time, fit_growth
from platforms.capacity.model import CellCapacity, NPlusOne, cells_to_add, chunks_free, n_plus_one
from platforms.capacity.settings import CapacitySettings
from platforms.capacity.sources import SOURCES, CellSource

__all__ = ["CapacityError", "CapacityOutlook", "capacity_outlook"]

_DAY_S = 86400.0


class CapacityError(Exception):
    """The store could not answer a capacity query (the engine's error is chained)."""


@dataclass(frozen=True, slots=True)
class CapacityOutlook:
    """The cells now and where their memory is heading. MiB and counts; times in Unix seconds; ``source`` is
    ``diego``, ``local`` or ``none`` (no cell reports: every figure empty)."""

    at_s: float
    source: str
    cells: tuple[CellCapacity, ...] = ()
    chunk_mib: float = 0.0
    chunk_from: str = ""
    memory_chunks_free: int = 0
    disk_chunk_mib: float | None = None
    disk_chunks_free: int | None = None
    n_plus_one: NPlusOne | None = None
    growth: GrowthFit | None = None
    exhausted_at_s: float | None = None  # projected: less than one chunk left
    n_plus_one_lost_at_s: float | None = None  # projected: losing the biggest cell no longer survivable
    cells_needed: int = 0  # cells (the biggest one's size) to add by ``needed_by_s`` to keep N+1
    needed_by_s: float = 0.0
    warn_days: float = 14.0
    history: tuple[tuple[float, float], ...] = field(default=(), repr=False)  # (t, allocated MiB)

    @property
    def memory_total_mib(self) -> float:
        return sum(c.memory_total_mib for c in self.cells)

    @property
    def memory_allocated_mib(self) -> float:
        return sum(c.memory_allocated_mib for c in self.cells)

    @property
    def n_plus_one_limit_mib(self) -> float | None:
        """The allocation N+1 tolerates: all cells but the biggest (None below two cells)."""
        if len(self.cells) < 2:
            return None
        return self.memory_total_mib - max(c.memory_total_mib for c in self.cells)

    @property
    def containers_free(self) -> float | None:
        values = [c.containers_remaining for c in self.cells]
        return None if not values or any(v is None for v in values) else sum(v or 0.0 for v in values)

    @property
    def status(self) -> str:
        """``ok``, ``warning`` (exhaustion or loss of N+1 projected within ``warn_days``), ``critical``
        (no chunk left, or N+1 lost now) or ``unknown`` (no cells)."""
        if not self.cells:
            return "unknown"
        if self.memory_chunks_free == 0 or (self.n_plus_one is not None and not self.n_plus_one.survives):
            return "critical"
        soon = self.at_s + self.warn_days * _DAY_S
        dates = (self.exhausted_at_s, self.n_plus_one_lost_at_s)
        return "warning" if any(d is not None and d <= soon for d in dates) else "ok"

    @property
    def summary(self) -> str:
        """One line: the free chunks, N+1 and the projection (for a report or a notification)."""
        if not self.cells:
            return "Capacity: no cell reports capacity metrics."
        parts = [
            f"{len(self.cells)} cells, {self.memory_chunks_free} free {_mib(self.chunk_mib)} chunks",
            f"{100 * self.memory_allocated_mib / max(self.memory_total_mib, 1e-9):.0f}% memory allocated",
        ]
        if self.n_plus_one is not None:
            parts.append(
                "N+1 ok" if self.n_plus_one.survives else f"N+1 LOST (losing {self.n_plus_one.worst_cell})"
            )
        if self.exhausted_at_s is not None:
            parts.append(f"exhausted by {_date(self.exhausted_at_s)}")
        elif self.growth is not None:
            parts.append(f"no exhaustion projected ({self.growth.slope_per_day:+.0f} MiB/day)")
        else:
            parts.append("too little history for a trend")
        if self.cells_needed:
            parts.append(f"{self.cells_needed} more cell(s) needed by {_date(self.needed_by_s)}")
        return f"Capacity {self.status}: " + ", ".join(parts) + "."

    def to_json(self) -> dict[str, Any]:
        n1 = self.n_plus_one
        return {
            "at": self.at_s,
            "source": self.source,
            "status": self.status,
            "summary": self.summary,
            "chunk_mib": self.chunk_mib,
            "chunk_from": self.chunk_from,
            "memory": {
                "total_mib": self.memory_total_mib,
                "allocated_mib": self.memory_allocated_mib,
                "free_chunks": self.memory_chunks_free,
            },
            "disk": {"chunk_mib": self.disk_chunk_mib, "free_chunks": self.disk_chunks_free},
            "containers": {"free": self.containers_free},
            "n_plus_one": None
            if n1 is None
            else {
                "survives": n1.survives,
                "worst_cell": n1.worst_cell,
                "headroom_chunks": n1.headroom_chunks,
                "headroom_mib": n1.headroom_mib,
                "containers_headroom": n1.containers_headroom,
            },
            "forecast": {
                "growth_mib_per_day": None if self.growth is None else self.growth.slope_per_day,
                "fit": None
                if self.growth is None
                else {
                    "origin": self.growth.origin_s,
                    "intercept_mib": self.growth.intercept,
                    "slope_mib_per_day": self.growth.slope_per_day,
                },
                "n_plus_one_limit_mib": self.n_plus_one_limit_mib,
                "history_points": 0 if self.growth is None else self.growth.points,
                "exhausted_at": self.exhausted_at_s,
                "n_plus_one_lost_at": self.n_plus_one_lost_at_s,
                "cells_needed": self.cells_needed,
                "needed_by": self.needed_by_s,
            },
            "cells": [_cell_json(c, self.chunk_mib) for c in self.cells],
            "history": [[t, v] for t, v in self.history],
        }


def _cell_json(c: CellCapacity, chunk_mib: float) -> dict[str, Any]:
    return {
        "name": c.name,
        "memory_total_mib": c.memory_total_mib,
        "memory_remaining_mib": c.memory_remaining_mib,
        "memory_allocated_mib": c.memory_allocated_mib,
        "free_chunks": chunks_free([c.memory_remaining_mib], chunk_mib) if chunk_mib > 0 else 0,
        "disk_total_mib": c.disk_total_mib,
        "disk_remaining_mib": c.disk_remaining_mib,
        "containers_total": c.containers_total,
        "containers_remaining": c.containers_remaining,
    }


def _mib(mib: float) -> str:
    return f"{mib / 1024:g} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def _date(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%d")


class _Reader:
    def __init__(self, engine: Engine, now_s: float) -> None:
        self.engine = engine
        self.now_ms = round(now_s * 1000)

    def vector(self, expr: str) -> list[tuple[dict[str, str], float]]:
        try:
            value = self.engine.instant_query(expr, self.now_ms)
        except QueryError as exc:
            raise CapacityError(f"{expr}: {exc}") from exc
        if isinstance(value, Scalar):
            return [({}, value.value)]
        if isinstance(value, Vector):
            return [(dict(s.labels), s.value) for s in value.samples if math.isfinite(s.value)]
        return []

    def scalar(self, expr: str | None) -> float | None:
        found = self.vector(expr) if expr is not None else []
        return found[0][1] if found else None

    def history(self, expr: str, start_s: float, step_s: float) -> list[tuple[float, float]]:
        step_ms = max(1000, round(step_s * 1000))
        start_ms = self.now_ms - ((self.now_ms - round(start_s * 1000)) // step_ms) * step_ms
        try:
            matrix: Matrix = self.engine.range_query(expr, start_ms, self.now_ms, step_ms)
        except QueryError as exc:
            raise CapacityError(f"{expr}: {exc}") from exc
        if not matrix.series:
            return []
        s = matrix.series[0]
        return [(t / 1000, v) for t, v in zip(s.timestamps_ms, s.values, strict=True) if math.isfinite(v)]


def _by_cell(reader: _Reader, expr: str | None, labels: tuple[str, ...]) -> dict[str, float]:
    if expr is None:
        return {}
    out: dict[str, float] = {}
    for found, value in reader.vector(expr):
        out.setdefault("/".join(found.get(k, "") for k in labels), value)
    return out


def _cells(reader: _Reader, src: CellSource) -> tuple[CellCapacity, ...]:
    total = _by_cell(reader, src.memory_total, src.cell_labels)
    remaining = _by_cell(reader, src.memory_remaining, src.cell_labels)
    disk_t = _by_cell(reader, src.disk_total, src.cell_labels)
    disk_r = _by_cell(reader, src.disk_remaining, src.cell_labels)
    cont_t = _by_cell(reader, src.containers_total, src.cell_labels)
    cont_r = _by_cell(reader, src.containers_remaining, src.cell_labels)
    return tuple(
        CellCapacity(
            name=name,
            memory_total_mib=total[name],
            memory_remaining_mib=remaining[name],
            disk_total_mib=disk_t.get(name),
            disk_remaining_mib=disk_r.get(name),
            containers_total=cont_t.get(name),
            containers_remaining=cont_r.get(name),
        )
        for name in sorted(total)
        if name in remaining
    )


def capacity_outlook(
    source: Querier | Engine,
    now_s: float | None = None,
    settings: CapacitySettings | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> CapacityOutlook:
    """The foundation's capacity outlook at ``now_s`` (default: ``clock()``), read through ``source`` (the
    store, or a PromQL engine over it). Raises :class:`CapacityError` when a query fails."""
    settings = settings or CapacitySettings()
    now = clock() if now_s is None else now_s
    engine = source if isinstance(source, Engine) else Engine(source, registry=CollectorRegistry())
    reader = _Reader(engine, now)
    for src in SOURCES:
        cells = _cells(reader, src)
        if cells:
            return _outlook(reader, src, cells, now, settings)
    return CapacityOutlook(at_s=now, source="none", warn_days=settings.warn_days)


def _within(t: float | None, latest: float) -> float | None:
    return t if t is not None and t <= latest else None


def _outlook(
    reader: _Reader, src: CellSource, cells: tuple[CellCapacity, ...], now: float, settings: CapacitySettings
) -> CapacityOutlook:
    measured = reader.scalar(src.chunk)
    chunk = measured if measured is not None and measured > 0 else settings.chunk_mib
    chunk_from = src.chunk_from if measured is not None and measured > 0 else "configured (no instance seen)"
    disk_chunk = reader.scalar(src.disk_chunk)
    disk_chunk = disk_chunk if disk_chunk is not None and disk_chunk > 0 else None
    history = reader.history(src.allocated_history, now - settings.history_s, settings.step_s)
    growth = fit_growth([t for t, _ in history], [v for _, v in history])
    total = sum(c.memory_total_mib for c in cells)
    biggest = max(c.memory_total_mib for c in cells)
    needed_by = now + settings.horizon_days * _DAY_S
    exhausted = n1_lost = None
    projected = sum(c.memory_allocated_mib for c in cells)
    if growth is not None:
        latest = now + settings.max_projection_days * _DAY_S
        exhausted = _within(crossing_time(growth, total - chunk, now), latest)
        n1_lost = _within(crossing_time(growth, total - biggest, now), latest) if len(cells) > 1 else None
        projected = max(projected, growth.value_at(needed_by))
    return CapacityOutlook(
        at_s=now,
        source=src.name,
        cells=cells,
        chunk_mib=chunk,
        chunk_from=chunk_from,
        memory_chunks_free=chunks_free([c.memory_remaining_mib for c in cells], chunk),
        disk_chunk_mib=disk_chunk,
        disk_chunks_free=None
        if disk_chunk is None
        else chunks_free([c.disk_remaining_mib for c in cells], disk_chunk),
        n_plus_one=n_plus_one(cells, chunk),
        growth=growth,
        exhausted_at_s=exhausted,
        n_plus_one_lost_at_s=n1_lost,
        cells_needed=cells_to_add(projected, cells, chunk),
        needed_by_s=needed_by,
        warn_days=settings.warn_days,
        history=tuple(history),
    )
