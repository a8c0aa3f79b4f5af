from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from remediation.config import Policy
from remediation.model import ActionRequest
from remediation.policy.schedule import PolicyScheduler, scheduled_request


def _policy(name: str, schedule: dict[str, str], instances: int = 3) -> Policy:
    return Policy.model_validate(
        {
            "name": name,
            "mode": "live",
            "trigger": {"schedule": schedule},
            "target": {"app": "checkout"},
            "action": {"type": "scale", "instances": instances, "max_instances": 8},
        }
    )


async def _until(cond: object, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not cond():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _started_at(now: datetime) -> Callable[[], datetime]:
    """The scheduler's clock for a test whose ``at`` times are ``now`` plus milliseconds: :meth:`start` skips
    an ``at`` already past by its clock, and on a loaded machine the real clock can pass ``now + 300 ms``
    before ``start`` runs (the policy would be skipped, the test would time out). Pinned to ``now``, the
    skip decision sees the times the test meant; APScheduler still fires on the real clock (late ones at
    once, within the misfire grace)."""
    return lambda: now


async def test_date_trigger_fires_and_submits_request() -> None:
    now = datetime.now(UTC)
    at = now + timedelta(milliseconds=300)
    soon = _policy("soon", {"at": at.isoformat()})
    past = _policy("past", {"at": (now - timedelta(hours=1)).isoformat()})
    weekly = _policy("weekly", {"cron": "0 8 * * mon-fri", "timezone": "Europe/Berlin"})
    alert_policy = Policy.model_validate(
        {"name": "alerting", "trigger": {"matchers": ['a="b"']}, "action": {"type": "restart_app"}}
    )
    got: list[ActionRequest] = []

    async def submit(req: ActionRequest) -> None:
        got.append(req)

    sched = PolicyScheduler([soon, past, weekly, alert_policy], submit, clock=_started_at(now))
    await sched.start()
    try:
        jobs = sched.jobs()
        assert set(jobs) == {"soon", "weekly"}
        nxt = jobs["weekly"]
        assert (
            nxt is not None and nxt.hour == 8 and nxt.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
        )
        await _until(lambda: len(got) == 1)
    finally:
        await sched.stop()
    req = got[0]
    assert req.policy == "soon" and req.action == "scale" and str(req.target) == "checkout"
    assert req.params["instances"] == 3 and req.mode == "live"
    assert req.trigger["schedule"]["at"] == at.isoformat()
    # the same slot gives the same id (a restart within the slot does not act twice)
    again = scheduled_request(soon, at, datetime.now(UTC))
    assert again.id == req.id


async def test_submit_failure_does_not_stop_the_scheduler() -> None:
    now = datetime.now(UTC)
    a = _policy("a", {"at": (now + timedelta(milliseconds=200)).isoformat()})
    b = _policy("b", {"at": (now + timedelta(milliseconds=400)).isoformat()})
    seen: list[str] = []

    async def submit(req: ActionRequest) -> None:
        seen.append(req.policy)
        if req.policy == "a":
            raise RuntimeError("engine down")

    sched = PolicyScheduler([a, b], submit, clock=_started_at(now))
    await sched.start()
    try:
        await _until(lambda: seen == ["a", "b"])
    finally:
        await sched.stop()
    assert [r.policy for r in sched.fired] == ["a", "b"]
