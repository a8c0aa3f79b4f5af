"""Run policies that have ``trigger.schedule``: one APScheduler job each (cron with its time zone, or one
date-time), which, when it fires, builds the :class:`~remediation.model.ActionRequest` and hands it to
``submit`` (the engine's :meth:`submit`). The engine applies mode, rails and audit as for alert triggers.

The request id is stable per policy and scheduled slot (the minute of a cron firing, the ``at`` time), so a
restart within the same minute does not act twice. ``at`` times already past at :meth:`start` are skipped.
Start and stop on the event loop that runs the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.date import DateTrigger  # type: ignore[import-untyped]

from remediation.config import Policy
from remediation.model import ActionRequest, Target, request_id
from remediation.policy.loader import policy_version

__all__ = ["PolicyScheduler", "scheduled_request"]

log = logging.getLogger(__name__)

Submit = Callable[[ActionRequest], Awaitable[object]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def scheduled_request(policy: Policy, slot: datetime, now: datetime) -> ActionRequest:
    """The request a scheduled ``policy`` makes for the firing at ``slot``."""
    sched = policy.trigger.schedule
    if sched is None or policy.target.app is None:
        raise ValueError(f"policy {policy.name} has no schedule and fixed target.app")
    target = Target(policy.target.app)
    spec: dict[str, Any] = {"timezone": sched.timezone, "slot": slot.isoformat()}
    spec.update({"cron": sched.cron} if sched.cron is not None else {"at": sched.at})
    params = policy.action.model_dump(mode="json")  # as the engine plans alert requests
    return ActionRequest(
        id=request_id(policy.name, target, f"schedule:{slot.isoformat()}"),
        policy=policy.name,
        policy_version=policy_version(policy),
        action=policy.action.type,
        target=target,
        params=params,
        mode=policy.mode,
        created_at=now,
        trigger={"schedule": spec},
    )


class PolicyScheduler:
    """APScheduler jobs for the scheduled policies among ``policies`` (others are ignored)."""

    def __init__(
        self,
        policies: Sequence[Policy],
        submit: Submit,
        *,
        clock: Callable[[], datetime] = _utc_now,
        misfire_grace_s: int = 300,
    ) -> None:
        self._policies = [p for p in policies if p.trigger.schedule is not None]
        self._submit = submit
        self._clock = clock
        self._grace = misfire_grace_s
        self._scheduler: AsyncIOScheduler | None = None
        self.fired: list[ActionRequest] = []  # what was submitted, newest last (for status pages)

    @staticmethod
    def trigger_for(policy: Policy) -> CronTrigger | DateTrigger:
        sched = policy.trigger.schedule
        if sched is None:
            raise ValueError(f"policy {policy.name} has no schedule")
        if sched.cron is not None:
            return CronTrigger.from_crontab(sched.cron, timezone=sched.timezone)
        if sched.at is None:
            raise ValueError(f"policy {policy.name}: schedule needs cron or at")
        at = datetime.fromisoformat(sched.at)
        return DateTrigger(run_date=at, timezone=sched.timezone)

    def jobs(self) -> dict[str, datetime | None]:
        """Policy name -> next run time (None before :meth:`start` or when it will not run again)."""
        if self._scheduler is None:
            return {p.name: None for p in self._policies}
        return {j.id: j.next_run_time for j in self._scheduler.get_jobs()}

    async def start(self) -> None:
        if self._scheduler is not None:
            return
        scheduler = AsyncIOScheduler(timezone=UTC)
        now = self._clock()
        for policy in self._policies:
            sched = policy.trigger.schedule
            if sched is not None and sched.at is not None and _aware(sched.at, sched.timezone) < now:
                log.info("policy %s: scheduled time %s has passed, not scheduled", policy.name, sched.at)
                continue
            scheduler.add_job(
                self._fire,
                self.trigger_for(policy),
                args=[policy],
                id=policy.name,
                name=f"policy {policy.name}",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=self._grace,
            )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    async def _fire(self, policy: Policy) -> None:
        now = self._clock()
        sched = policy.trigger.schedule
        if sched is not None and sched.at is not None:
            slot = _aware(sched.at, sched.timezone)
        else:
            slot = now.replace(second=0, microsecond=0)
        request = scheduled_request(policy, slot, now)
        self.fired.append(request)
        try:
            await self._submit(request)
        except Exception:  # one failed submit must not stop the schedule
            log.exception("policy %s: scheduled submit failed", policy.name)


def _aware(text: str, tz: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo(tz))
