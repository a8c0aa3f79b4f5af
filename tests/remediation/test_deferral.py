"""Deferral: lock, cooldown, blast radius and max_concurrent say "not now" — the request waits (``deferred``)
and runs once they let it through, or ``expired`` when its alert resolves first or ``max_defer`` passes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from alerting.model import Alert
from remediation.audit import SqliteAuditLog
from remediation.config import GlobalRails, Policy
from remediation.engine import RemediationEngine
from remediation.model import ActionRecord
from remediation.sim import SimPlatform
from tests.remediation._support import T0, Clock, alert, engine, kinds, policy, resolved, wait_status

VERIFY = {"deadline": 10, "on_failure": "escalate"}
DONE = {"verified", "failed", "escalated", "reverted", "refused", "expired"}


def errors_policy(name: str = "errors", alertname: str = "AppInstanceErrorsHigh") -> Policy:
    return policy(
        name,
        action={"type": "restart_instance"},
        trigger={"matchers": [f'alertname="{alertname}"']},
        rails={"blast_radius": {"max_instances_pct": 50}},
        verify=VERIFY,
    )


def deferred_events(rec: ActionRecord) -> list[dict[str, object]]:
    return [dict(e.data) for e in rec.events if e.kind == "deferred"]


def at_seq(rec: ActionRecord, kind: str) -> int:
    return next(e.seq for e in rec.events if e.kind == kind)


@contextlib.asynccontextmanager
async def resolve_on_restart(
    eng: RemediationEngine, plat: SimPlatform, alerts: Sequence[Alert]
) -> AsyncIterator[None]:
    """Each alert resolves right after its instance is restarted (the restart fixed it)."""

    async def run() -> None:
        done: set[int] = set()
        while len(done) < len(alerts):
            for i, a in enumerate(alerts):
                index = int(a.labels["app_instance"])
                if i not in done and plat.count("restart_instance", a.labels["app"], index):
                    eng.put([resolved(a, T0)])
                    done.add(i)
            await asyncio.sleep(0.01)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_errors_on_every_instance_are_restarted_one_after_another() -> None:
    """The demo's `fault --kind errors` on all 3 instances: 50% of 3 = 1 at a time, all three restarted."""
    plat = SimPlatform({"catalog": 3})
    eng = engine([errors_policy()], plat)
    alerts = [alert("catalog", i, alertname="AppInstanceErrorsHigh") for i in range(3)]
    await eng.start()
    try:
        async with resolve_on_restart(eng, plat, alerts):
            eng.put(alerts)
            ids = [r.id for a in alerts for r in eng.plan(a)]
            recs = [await wait_status(eng, i, DONE) for i in ids]
    finally:
        await eng.stop()
    assert [r.status for r in recs] == ["verified"] * 3
    assert [plat.count("restart_instance", "catalog", i) for i in range(3)] == [1, 1, 1]
    first, second, third = recs
    assert "deferred" not in kinds(first)
    for rec in (second, third):
        [ev] = deferred_events(rec)  # once, not once per re-check
        assert ev["rail"] == "blast_radius"
        assert ev["reason"] == "2 of 3 instances of catalog would be acted on at once (max 50% = 1)"
    # one after another: each starts only after the previous one was verified
    assert at_seq(first, "verified") < at_seq(second, "started")
    assert at_seq(second, "verified") < at_seq(third, "started")


async def test_leak_restart_waits_for_the_latency_restart_of_another_instance() -> None:
    plat = SimPlatform({"catalog": 2})
    hung = plat.hang("restart_instance")
    latency = errors_policy("latency", "AppInstanceLatencyHigh")
    leak = errors_policy("leak", "AppInstanceMemoryLeak")
    eng = engine([latency, leak], plat)
    slow = alert("catalog", 0, alertname="AppInstanceLatencyHigh")
    leaking = alert("catalog", 1, alertname="AppInstanceMemoryLeak")
    try:
        first = asyncio.create_task(eng.handle([slow]))
        while plat.count("restart_instance") == 0:
            await asyncio.sleep(0.01)
        [waiting] = await eng.handle([leaking])
        assert waiting.status == "deferred"
        assert deferred_events(waiting)[0]["rail"] == "blast_radius"
        hung.set()
        eng.put([resolved(slow, T0)])
        [rec] = await first
        assert rec.status == "verified"
        await wait_status(eng, waiting.request.id, {"running", "verifying"})
        eng.put([resolved(leaking, T0)])
        done = await wait_status(eng, waiting.request.id, DONE)
    finally:
        hung.set()
    assert done.status == "verified"
    assert plat.count("restart_instance", "catalog", 1) == 1


async def test_deferred_request_expires_when_its_alert_resolves() -> None:
    plat = SimPlatform({"catalog": 3})
    hung = plat.hang("restart_instance")
    eng = engine([errors_policy()], plat)
    alerts = [alert("catalog", i, alertname="AppInstanceErrorsHigh") for i in range(2)]
    await eng.start()
    try:
        eng.put(alerts)
        waiting_id = eng.plan(alerts[1])[0].id
        await wait_status(eng, waiting_id, {"deferred"})
        eng.put([resolved(alerts[1], T0)])  # went away on its own: nothing left to do
        rec = await wait_status(eng, waiting_id, {"expired"}, timeout_s=5)
    finally:
        hung.set()
        await eng.stop(timeout_s=0)  # instance 0's restart would wait out its verification deadline
    assert kinds(rec) == ["requested", "deferred", "expired"]
    data = rec.events[-1].data
    assert data["rail"] == "blast_radius"
    assert str(data["reason"]).startswith(f"alert resolved at {T0.isoformat()} before the action could run")
    assert plat.count("restart_instance", "catalog", 1) == 0


async def test_deferred_request_expires_after_max_defer_global_and_per_policy() -> None:
    for rails, policy_rails, limit in (
        (GlobalRails(cooldown=0, max_defer=60), {}, 60),
        (GlobalRails(cooldown=0, max_defer=60), {"max_defer": "2m"}, 120),
    ):
        clock = Clock()
        plat = SimPlatform({"catalog": 2})
        hung = plat.hang("restart_instance")
        p = policy(
            action={"type": "restart_instance"},
            rails={"blast_radius": {"max_instances_pct": 50}, **policy_rails},
            verify={"deadline": 0, "on_failure": "none"},
        )
        eng = engine([p], plat, rails=rails, clock=clock)
        try:
            first = asyncio.create_task(eng.handle([alert("catalog", 0)]))
            while plat.count("restart_instance") == 0:
                await asyncio.sleep(0.01)
            [rec] = await eng.handle([alert("catalog", 1)])
            assert rec.status == "deferred"
            clock.advance(limit - 1)
            await eng.handle([])
            assert eng._record(rec.request.id).status == "deferred"
            clock.advance(1)
            await eng.handle([])  # re-checks: waited max_defer
            final = eng._record(rec.request.id)
            assert final.status == "expired"
            assert (
                f"still deferred after max_defer {limit}s (by blast_radius" in final.events[-1].data["reason"]
            )
        finally:
            hung.set()
        await first
        assert plat.count("restart_instance", "catalog", 1) == 0


async def test_cooldown_deferral_runs_after_the_cooldown_while_the_alert_fires() -> None:
    clock = Clock()
    plat = SimPlatform({"web": 2})
    p = policy(rails={"cooldown": "5m"}, verify={"deadline": 0, "on_failure": "none"})
    eng = engine([p], plat, clock=clock)
    [first] = await eng.handle([alert("web", 0)])
    assert "started" in kinds(first)
    clock.advance(60)
    again = alert("web", 0, start=clock.t)  # a new occurrence, within the cooldown
    await eng.start()
    try:
        eng.put([again])
        action_id = eng.plan(again)[0].id
        rec = await wait_status(eng, action_id, {"deferred"})
        assert deferred_events(rec)[0]["rail"] == "cooldown"
        clock.advance(241)  # the cooldown has passed; the worker re-checks at least every second
        rec = await wait_status(eng, action_id, DONE, timeout_s=5)
    finally:
        await eng.stop()
    assert kinds(rec)[:3] == ["requested", "deferred", "started"]
    assert plat.count("restart_app") == 2


async def test_approved_then_deferred_runs_without_a_second_approval() -> None:
    plat = SimPlatform({"a": 1, "b": 1})
    hung = plat.hang("restart_app")
    quick = {"deadline": 0, "on_failure": "none"}
    needs_ok = policy("ok", trigger={"matchers": ['alertname="Ok"']}, rails={"approval": {"required": True}})
    eng = engine([policy(verify=quick), needs_ok], plat, rails=GlobalRails(cooldown=0, max_concurrent=1))
    try:
        [pending] = await eng.handle([alert("b", 0, alertname="Ok")])
        assert pending.status == "pending_approval"
        first = asyncio.create_task(eng.handle([alert("a", 0)]))
        while plat.count("restart_app") == 0:
            await asyncio.sleep(0.01)
        rec = await eng.approve(pending.request.id, "alice")
        assert rec.status == "deferred" and deferred_events(rec)[0]["rail"] == "max_concurrent"
        hung.set()
        await first
        rec = await wait_status(eng, pending.request.id, {"running", "verifying", *DONE})
    finally:
        hung.set()
    assert "started" in kinds(rec) and kinds(rec).count("pending_approval") == 1
    await eng.drain(5)


async def test_budget_refusal_is_final_even_for_a_deferred_request() -> None:
    plat = SimPlatform({"a": 1, "b": 1, "c": 1})
    hung = plat.hang("restart_app")
    p = policy(verify={"deadline": 0, "on_failure": "none"}, rails={"budget": {"max_actions": 2}})
    eng = engine([p], plat, rails=GlobalRails(cooldown=0, max_concurrent=1))
    try:
        first = asyncio.create_task(eng.handle([alert("a", 0)]))
        while plat.count("restart_app") == 0:
            await asyncio.sleep(0.01)
        waiting = await eng.handle([alert("b", 0), alert("c", 0)])
        assert [r.status for r in waiting] == ["deferred", "deferred"]
        hung.set()
        await first
        b, c = [await wait_status(eng, r.request.id, DONE) for r in waiting]
    finally:
        hung.set()
    assert "started" in kinds(b)  # first in line: runs when "a" is done, and spends the budget
    assert kinds(c) == ["requested", "deferred", "refused"] and c.events[-1].data["rail"] == "budget"
    assert plat.count("restart_app") == 2


async def test_recover_requeues_deferred_requests_and_never_reapplies_the_started_one(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    plat1 = SimPlatform({"catalog": 3})
    hung = plat1.hang("restart_instance")
    alerts = [alert("catalog", i, alertname="AppInstanceErrorsHigh") for i in range(3)]
    try:
        eng1 = engine([errors_policy()], plat1, audit=SqliteAuditLog(db))
        await eng1.start()
        eng1.put(alerts)
        ids = [eng1.plan(a)[0].id for a in alerts]
        for i in ids[1:]:
            await wait_status(eng1, i, {"deferred"})
        deadline = time.monotonic() + 5
        while plat1.count("restart_instance") == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await eng1.stop(timeout_s=0)  # as good as a crash: instance 0 stays "started" in the journal
    finally:
        hung.set()
    assert [eng1._record(i).status for i in ids] == ["running", "deferred", "deferred"]

    plat2 = SimPlatform({"catalog": 3})
    eng2 = engine([errors_policy()], plat2, audit=SqliteAuditLog(db))
    await eng2.start()
    try:
        async with resolve_on_restart(eng2, plat2, alerts[1:]):
            recovered = await eng2.recover()
            assert {r.request.id: r.status for r in recovered} == {
                ids[0]: "interrupted",
                ids[1]: "deferred",
                ids[2]: "deferred",
            }
            eng2.put([resolved(alerts[0], T0)])  # instance 0's restart did go through before the crash
            recs = [await wait_status(eng2, i, DONE) for i in ids]
    finally:
        await eng2.stop()
    assert [r.status for r in recs] == ["verified"] * 3
    assert plat2.count("restart_instance", "catalog", 0) == 0  # never applied twice
    assert [plat2.count("restart_instance", "catalog", i) for i in (1, 2)] == [1, 1]
    for rec in recs[1:]:
        assert kinds(rec).count("deferred") == 1 and kinds(rec).count("started") == 1
    assert at_seq(recs[1], "verified") < at_seq(recs[2], "started")
