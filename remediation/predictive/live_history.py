"""Load history for the predictive policy: one app's load query over a window, read tenant-scoped.

A space policy reads through :func:`metrics_store.scoped.scoped` with the policy's scope, so its query sees
only its spaces' series whatever it says; a foundation policy reads the store itself. All series of the
answer are summed per timestamp into one load series.
"""

from __future__ import annotations

import math
from typing import Protocol

from prometheus_client import CollectorRegistry

from metrics_store.base import Querier
from metrics_store.config import DEFAULT_QUERY_LIMITS, QueryLimits
from metrics_store.promql import Engine
from metrics_store.scoped import scoped
from platforms.tenancy import Scope

__all__ = ["LoadHistory", "StoreLoadHistory", "aligned"]


class LoadHistory(Protocol):
    """Reads one load series: ``[(time s, value)]`` at ``step_s`` over ``[start_s, end_s]``, time ordered."""

    def read(
        self, scope: Scope, expr: str, start_s: float, end_s: float, step_s: float
    ) -> list[tuple[float, float]]: ...


def aligned(t: float, step_s: float) -> float:
    """``t`` rounded down to a multiple of ``step_s`` (evaluation times on one grid, deterministic)."""
    return math.floor(t / step_s) * step_s


class StoreLoadHistory:
    """:class:`LoadHistory` over a :class:`~metrics_store.base.Querier` (the store, or a remote API)."""

    def __init__(self, querier: Querier, limits: QueryLimits = DEFAULT_QUERY_LIMITS) -> None:
        self._querier = querier
        self._limits = limits
        self._engines: dict[Scope, Engine] = {}

    def _engine(self, scope: Scope) -> Engine:
        engine = self._engines.get(scope)
        if engine is None:
            engine = Engine.from_limits(
                scoped(self._querier, scope), self._limits, registry=CollectorRegistry()
            )
            self._engines[scope] = engine
        return engine

    def read(
        self, scope: Scope, expr: str, start_s: float, end_s: float, step_s: float
    ) -> list[tuple[float, float]]:
        if end_s < start_s:
            return []
        matrix = self._engine(scope).range_query(
            expr, int(start_s * 1000), int(end_s * 1000), max(1, int(step_s * 1000))
        )
        sums: dict[int, float] = {}
        for series in matrix.series:
            for t, v in zip(series.timestamps_ms, series.values, strict=True):
                if math.isfinite(v):
                    sums[t] = sums.get(t, 0.0) + v
        return [(t / 1000.0, v) for t, v in sorted(sums.items())]
