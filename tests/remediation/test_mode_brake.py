"""Switching a live policy to dry run (``POST /api/v1/policies/{name}/mode``, admin) is the brake: nothing of
that policy may act live afterwards. The request used to keep the mode it was planned with, so a live request
deferred by a rail, one waiting for approval, and every request of a scheduled policy (planned from the
configured mode) still restarted the app after the switch. Removing the policy is the same brake."""

from __future__ import annotations

from datetime import timedelta

from remediation.config import GlobalRails
from remediation.policy.schedule import scheduled_request
from remediation.sim import SimPlatform
from tests.remediation._support import T0, Clock, alert, engine, kinds, policy

APPROVAL = {"approval": {"required": True, "timeout": 3600}}


async def test_a_deferred_live_request_does_not_act_after_the_switch_to_dry_run() -> None:
    clock, plat = Clock(), SimPlatform({"web": 2})
    eng = engine([policy("p", rails={"cooldown": 60})], plat, clock=clock, rails=GlobalRails(cooldown=0))
    await eng.handle([alert("web", 0)])
    [second] = await eng.handle([alert("web", 0, start=T0 + timedelta(seconds=5))])
    assert second.status == "deferred" and plat.count("restart_app") == 1
    eng.set_mode("p", "dry_run", "admin")
    clock.advance(120)  # the cooldown is over: the re-check decides again
    assert await eng.handle([]) == []  # handle re-checks the deferred requests first
    again = eng.audit.get(second.request.id)
    assert again is not None and again.status == "dry_run", kinds(again)
    assert again.events[-1].data == {"would": "restart_app web", "policy_mode": "dry_run"}
    assert plat.count("restart_app") == 1


async def test_approving_after_the_switch_to_dry_run_does_not_act() -> None:
    plat = SimPlatform({"web": 2})
    eng = engine([policy("p", rails=APPROVAL)], plat, clock=Clock())
    [rec] = await eng.handle([alert("web", 0)])
    assert rec.status == "pending_approval"
    eng.set_mode("p", "dry_run", "admin")
    done = await eng.approve(rec.request.id, "op", wait=True)
    assert done.status == "dry_run" and kinds(done)[-2:] == ["approved", "dry_run"]
    assert plat.count("restart_app") == 0


async def test_a_scheduled_live_policy_switched_to_dry_run_does_not_act() -> None:
    plat = SimPlatform({"web": 2})
    p = policy("s", trigger={"schedule": {"cron": "0 3 * * *"}}, target={"app": "web"})
    eng = engine([p], plat, clock=Clock())
    eng.set_mode("s", "dry_run", "admin")
    rec = await eng.submit(scheduled_request(p, T0, T0), wait=True)
    assert rec.request.mode == "live"  # the scheduler reads the configured mode
    assert rec.status == "dry_run" and plat.count("restart_app") == 0


async def test_a_removed_policy_s_deferred_request_is_refused_not_started_without_its_approval() -> None:
    """Removing a policy (a reload without it) left its deferred requests to the global rails: a request of
    a policy that needs approval, deferred by its cooldown, then started live with no approval."""
    clock, plat = Clock(), SimPlatform({"web": 2})
    p = policy("p", rails={"cooldown": 60, **APPROVAL})
    eng = engine([p], plat, clock=clock, rails=GlobalRails(cooldown=0))
    [first] = await eng.handle([alert("web", 0)])
    await eng.approve(first.request.id, "op", wait=True)
    [second] = await eng.handle([alert("web", 0, start=T0 + timedelta(seconds=5))])
    assert second.status == "deferred" and plat.count("restart_app") == 1
    eng.apply_policies([])
    clock.advance(120)
    assert await eng.handle([]) == []
    rec = eng.audit.get(second.request.id)
    assert rec is not None and rec.status == "refused", kinds(rec)
    assert rec.events[-1].data == {"rail": "policy", "reason": "policy p was removed after the request"}
    assert plat.count("restart_app") == 1
