"""The :class:`remediation.base.ActionContext` the engine hands an action: platform calls in a thread with
retries and backoff, each attempt audited; queries; audit events; shutdown-aware sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from platforms.base import PlatformError, Remediable
from remediation._metrics import RemediationMetrics
from remediation.actions import MUTATING_CALLS
from remediation.audit import jsonable
from remediation.base import RemediationError
from remediation.judge import INCONCLUSIVE
from remediation.model import ActionRequest

__all__ = ["CallSettings", "EngineContext", "QueryFn", "QueryRangeFn"]

T = TypeVar("T")
QueryFn = Callable[[str], Awaitable[list[tuple[dict[str, str], float]]]]
QueryRangeFn = Callable[
    [str, datetime, datetime, float], Awaitable[list[tuple[dict[str, str], list[tuple[float, float]]]]]
]


@dataclass(frozen=True)
class CallSettings:
    """How every action of one engine calls out: platform call retries (doubling backoff from
    ``backoff_s``), simulation (mutating calls recorded, not made), the engine's stop event, and its
    queries (None: the engine has no metrics store)."""

    retries: int
    backoff_s: float
    simulate: bool
    stopping: asyncio.Event
    query: QueryFn | None
    query_range: QueryRangeFn | None


class EngineContext:
    def __init__(
        self,
        platform: Remediable,
        request: ActionRequest,
        *,
        event: Callable[[str, dict[str, Any]], None],
        metrics: RemediationMetrics,
        calls: CallSettings,
    ) -> None:
        self.platform = platform
        self.request = request
        self._event = event
        self._metrics = metrics
        self._retries = calls.retries
        self._backoff_s = calls.backoff_s
        self._simulate = calls.simulate
        self._stopping = calls.stopping
        self._query = calls.query
        self._query_range = calls.query_range

    async def call(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        if self._simulate and name in MUTATING_CALLS:
            self._event("platform_call", {"call": name, "args": jsonable(list(args)), "simulated": True})
            self._metrics.platform_calls.labels(name, "simulated").inc()
            return None  # type: ignore[return-value]  # simulations get no answer from mutating calls
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await asyncio.to_thread(fn, *args)
            except PlatformError as e:
                self._metrics.platform_calls.labels(name, "error").inc()
                self._event(
                    "platform_call",
                    {"call": name, "args": jsonable(list(args)), "attempt": attempt, "error": str(e)},
                )
                if attempt > self._retries:
                    raise
                await self.sleep(self._backoff_s * 2 ** (attempt - 1))
                continue
            self._metrics.platform_calls.labels(name, "ok").inc()
            self._event(
                "platform_call",
                {"call": name, "args": jsonable(list(args)), "attempt": attempt, "result": jsonable(result)},
            )
            return result

    async def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        if self._query is None:
            raise RemediationError("no metrics query function configured")
        return await self._query(expr)

    async def query_range(
        self, expr: str, start: datetime, end: datetime, step_s: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        if self._query_range is None:
            raise RemediationError("no range query function configured")
        return await self._query_range(expr, start, end, step_s)

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self._event(kind, data)
        if kind == "step" and not data.get("simulated"):
            self._count_gates(data)

    def _count_gates(self, step: dict[str, Any]) -> None:
        """Self-metrics of a judged blue-green step (its audit event: ``passed``, ``verdicts``)."""
        self._metrics.canary_steps.labels("continue" if step.get("passed") else "cancel").inc()
        verdicts = step.get("verdicts")
        for gate, v in (verdicts if isinstance(verdicts, dict) else {}).items():
            stats = v.get("stats", {}) if isinstance(v, dict) else {}
            inconclusive = isinstance(stats, dict) and stats.get(INCONCLUSIVE) == 1.0
            result = "inconclusive" if inconclusive else "pass" if v.get("passed") else "fail"
            self._metrics.gate_evaluations.labels(str(gate), result).inc()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but raise :class:`RemediationError` as soon as the engine stops."""
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            return
        raise RemediationError("engine stopping")
