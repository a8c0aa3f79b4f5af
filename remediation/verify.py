"""Verification: did the triggering condition clear after the action?

:class:`AlertVerifier` answers from alerts (the engine feeds it every alert it receives via :meth:`observe`):
the trigger's alert (same fingerprint) resolved at or after the occurrence that triggered the action; or, when
the policy has ``verify.expr``, the instant PromQL query returns no series. It polls until the deadline.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from alerting.model import Alert
from remediation.model import ActionRequest

__all__ = ["AlertVerifier", "QueryFn"]

QueryFn = Callable[[str], Awaitable[list[tuple[dict[str, str], float]]]]


class AlertVerifier:
    def __init__(
        self,
        *,
        query: QueryFn | None = None,
        expr_for: Callable[[ActionRequest], str | None] = lambda r: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_s: float = 0.1,
        query_poll_s: float = 5.0,
    ) -> None:
        self._query = query
        self._expr_for = expr_for
        self._clock = clock
        self._poll_s = poll_s
        self._query_poll_s = query_poll_s
        self._lock = threading.Lock()
        self._resolved: dict[str, datetime] = {}  # fingerprint -> latest ends_at seen resolved

    def observe(self, alerts: Sequence[Alert]) -> None:
        """Note resolved alerts. Thread-safe, cheap."""
        now = self._clock()
        with self._lock:
            for a in alerts:
                if a.ends_at is not None and a.ends_at <= now:
                    fp = a.fingerprint()
                    prev = self._resolved.get(fp)
                    if prev is None or a.ends_at > prev:
                        self._resolved[fp] = a.ends_at

    def _alert_cleared(self, request: ActionRequest) -> tuple[bool, str]:
        fp = request.trigger.get("fingerprint")
        if not isinstance(fp, str):
            return False, "trigger has no alert fingerprint"
        started = request.trigger.get("starts_at")
        with self._lock:
            ended = self._resolved.get(fp)
        if ended is None:
            return False, f"alert {fp} still firing"
        if isinstance(started, str) and started and ended < datetime.fromisoformat(started):
            return False, f"alert {fp} still firing (last resolved before this occurrence)"
        return True, f"alert {fp} resolved at {ended.isoformat()}"

    async def _expr_cleared(self, expr: str) -> tuple[bool, str]:
        assert self._query is not None
        try:
            series = await self._query(expr)
        except Exception as e:  # a failing query is "not cleared yet", reported verbatim
            return False, f"{expr}: query failed: {e}"
        if series:
            return False, f"{expr}: {len(series)} series, e.g. {series[0][0]} = {series[0][1]:g}"
        return True, f"{expr}: no series"

    async def verify(self, request: ActionRequest, deadline_s: float) -> tuple[bool, str]:
        expr = self._expr_for(request)
        use_query = expr is not None and self._query is not None
        interval = self._query_poll_s if use_query else self._poll_s
        end = time.monotonic() + deadline_s
        while True:
            ok, seen = await self._expr_cleared(expr) if use_query and expr else self._alert_cleared(request)
            left = end - time.monotonic()
            if ok or left <= 0:
                return ok, seen
            await asyncio.sleep(min(interval, left))
