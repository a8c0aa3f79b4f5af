"""Crash recovery: settle what the last run left open in the audit trail. Nothing is applied twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from remediation._approvals import Approvals
from remediation._deferral import Deferral
from remediation._journal import Journal
from remediation.base import ActionResult
from remediation.model import ActionRecord, ActionRequest
from remediation.rails import RailEnv

__all__ = ["Recovery"]


class Recovery:
    """``running``/``tasks``: the engine's actions executing or verifying now (a recovered action joins them
    while it is verified). ``verify``: the engine's verification; ``finished``: its bookkeeping once an
    action leaves ``running``/``verifying``."""

    def __init__(
        self,
        journal: Journal,
        env: RailEnv,
        approvals: Approvals,
        deferral: Deferral,
        *,
        running: dict[str, ActionRequest],
        tasks: dict[str, asyncio.Task[None]],
        verify: Callable[[ActionRequest, ActionResult | None], Awaitable[None]],
        finished: Callable[[ActionRequest], None],
    ) -> None:
        self._journal = journal
        self._env = env
        self._approvals = approvals
        self._deferral = deferral
        self._running = running
        self._tasks = tasks
        self._verify = verify
        self._finished = finished

    def settle(self) -> list[str]:
        """The ids of the open actions, each settled: ``started``/``succeeded`` without an end ->
        ``interrupted`` (never re-applied) and then verified in a task; pending approvals keep waiting until
        their timeout; deferred requests (never started) are re-queued in arrival order, their max_defer
        counted from the original deferral; recorded but undecided requests are refused."""
        out: list[str] = []
        deferred: list[ActionRecord] = []
        for rec in self._journal.audit.open_actions():
            req = rec.request
            out.append(req.id)
            if rec.status == "deferred":
                deferred.append(rec)
            elif rec.status == "pending_approval":
                at = next(e.at for e in reversed(rec.events) if e.kind == "pending_approval")
                timeout = self._env.approval(req.policy).timeout
                self._approvals.restore(req, at + timedelta(seconds=timeout))
            elif rec.status in ("running", "verifying"):
                was = "executing" if rec.status == "running" else "verifying"
                self._journal.event(
                    req.id,
                    "interrupted",
                    {"reason": f"engine stopped while {was}; not re-applied, verifying"},
                )
                self._journal.outcome(req, "interrupted")
                self._running[req.id] = req
                self._tasks[req.id] = asyncio.create_task(self._verify_recovered(req))
            else:
                self._journal.refuse(req, "recovery", "engine restarted before a decision was made")
        for rec in sorted(deferred, key=lambda r: r.events[0].seq if r.events else 0):
            self._deferral.requeue(rec)
        return out

    async def _verify_recovered(self, req: ActionRequest) -> None:
        try:
            await self._verify(req, None)
        finally:
            self._finished(req)
