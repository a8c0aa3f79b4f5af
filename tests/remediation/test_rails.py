"""Each rail objects when it must and lets the request pass otherwise: budget and circuit breaker refuse,
lock, cooldown, blast radius and max_concurrent defer (the request runs once the rail lets it through)."""

from __future__ import annotations

import asyncio

from remediation.config import GlobalRails
from remediation.engine import RemediationEngine
from remediation.sim import SimPlatform
from tests.remediation._support import T0, Clock, Sink, alert, engine, kinds, policy, wait_status

QUICK = {"deadline": 0, "on_failure": "none"}


def refusal(rec: object) -> dict[str, object]:
    ev = [e for e in rec.events if e.kind == "refused"]  # type: ignore[attr-defined]
    return dict(ev[-1].data) if ev else {}


def deferral(rec: object) -> dict[str, object]:
    assert rec.status == "deferred", rec.status  # type: ignore[attr-defined]
    ev = [e for e in rec.events if e.kind == "deferred"]  # type: ignore[attr-defined]
    return dict(ev[-1].data)


async def runs_later(eng: RemediationEngine, action_id: str) -> None:
    rec = await wait_status(eng, action_id, {"verified", "failed", "escalated"})
    assert "started" in kinds(rec)


async def test_lock_one_action_per_app() -> None:
    plat = SimPlatform({"web": 4, "api": 2})
    hung = plat.hang("restart_app")
    eng = engine([policy(verify=QUICK)], plat)
    first = asyncio.create_task(eng.handle([alert("web", 0)]))
    while plat.count("restart_app") == 0:
        await asyncio.sleep(0.01)
    [second] = await eng.handle([alert("web", 1)])
    assert deferral(second)["rail"] == "lock"
    other_app = asyncio.create_task(eng.handle([alert("api", 0)]))  # another app: passes, hangs too
    while plat.count("restart_app") < 2:
        await asyncio.sleep(0.01)
    hung.set()
    for task in (first, other_app):
        [rec] = await task
        assert "succeeded" in kinds(rec)
    await runs_later(eng, second.request.id)


async def test_cooldown_per_target() -> None:
    clock = Clock()
    eng = engine([policy(verify=QUICK, rails={"cooldown": "5m"})], clock=clock)
    await eng.handle([alert("web", 0)])
    clock.advance(60)
    [rec] = await eng.handle([alert("web", 0, start=clock.t)])
    assert deferral(rec)["rail"] == "cooldown"
    [other] = await eng.handle([alert("api", 0, start=clock.t)])  # another target: no cooldown
    assert "started" in kinds(other)
    clock.advance(300)
    [later] = await eng.handle([alert("web", 0, start=clock.t)])  # re-checks the deferred one first
    assert "started" in kinds(eng._record(rec.request.id))
    assert deferral(later)["rail"] in ("lock", "cooldown")


async def test_budget_per_policy_and_global() -> None:
    clock = Clock()
    eng = engine(
        [policy("a", verify=QUICK, rails={"budget": {"max_actions": 2, "window": "1h"}})],
        clock=clock,
        rails=GlobalRails(cooldown=0, budget={"max_actions": 3, "window": 3600}),
    )
    for app in ("w1", "w2"):
        eng.platform.add_app(app, 2)  # type: ignore[attr-defined]
        assert "started" in kinds((await eng.handle([alert(app, 0)]))[0])
    [rec] = await eng.handle([alert("web", 0)])
    assert refusal(rec)["rail"] == "budget" and "policy budget" in str(refusal(rec)["reason"])
    clock.advance(3601)
    [rec] = await eng.handle([alert("web", 0, start=clock.t)])
    assert "started" in kinds(rec)
    # global: another policy with its own large budget stops at the global 3 in the window
    eng.apply_policies(
        [
            policy("a", verify=QUICK, rails={"budget": {"max_actions": 2, "window": "1h"}}),
            policy(
                "b",
                verify=QUICK,
                trigger={"matchers": ['alertname="B"']},
                rails={"budget": {"max_actions": 9}},
            ),
        ]
    )
    results = [await eng.handle([alert(a, 0, alertname="B", start=clock.t)]) for a in ("w1", "w2", "api")]
    assert ["started" in kinds(r[0]) for r in results] == [True, True, False]
    assert "global budget" in str(refusal(results[2][0])["reason"])


async def test_blast_radius_instances_and_scale_in() -> None:
    plat = SimPlatform({"web": 4})
    hung = plat.hang("restart_instance")
    p = policy(
        action={"type": "restart_instance"}, verify=QUICK, rails={"blast_radius": {"max_instances_pct": 50}}
    )
    eng = engine([p], plat)
    t1 = asyncio.create_task(eng.handle([alert("web", 0)]))
    while plat.count("restart_instance") == 0:
        await asyncio.sleep(0.01)
    t2 = asyncio.create_task(eng.handle([alert("web", 1)]))  # 2 of 4: allowed
    while plat.count("restart_instance") < 2:
        await asyncio.sleep(0.01)
    [third] = await eng.handle([alert("web", 2)])
    assert deferral(third)["rail"] == "blast_radius"
    hung.set()
    await t1, await t2
    await runs_later(eng, third.request.id)

    scale_in = policy("s", action={"type": "scale", "adjustment": "-75%"}, verify=QUICK)
    [rec] = await engine([scale_in], SimPlatform({"web": 4})).handle([alert("web", None)])
    assert deferral(rec)["rail"] == "blast_radius"
    scale_ok = policy("s", action={"type": "scale", "adjustment": "-1"}, verify=QUICK)
    [rec] = await engine([scale_ok], SimPlatform({"web": 4})).handle([alert("web", None)])
    assert "started" in kinds(rec)


async def test_blast_radius_max_apps() -> None:
    plat = SimPlatform({"a": 1, "b": 1, "c": 1})
    hung = plat.hang("restart_app")
    eng = engine([policy(verify=QUICK, rails={"blast_radius": {"max_apps": 2}})], plat)
    tasks = [asyncio.create_task(eng.handle([alert(a, 0)])) for a in ("a", "b")]
    while plat.count("restart_app") < 2:
        await asyncio.sleep(0.01)
    [rec] = await eng.handle([alert("c", 0)])
    assert deferral(rec)["rail"] == "blast_radius" and "max_apps 2" in str(deferral(rec)["reason"])
    hung.set()
    await asyncio.gather(*tasks)
    await runs_later(eng, rec.request.id)


async def test_circuit_breaker_opens_escalates_once_and_half_opens() -> None:
    clock = Clock()
    sink = Sink()
    p = policy(
        verify={"deadline": 0, "on_failure": "none"},
        rails={"circuit_breaker": {"max_failures": 2, "window": "1h", "reset_after": "10m"}},
    )
    eng = engine([p], clock=clock, notify=sink)
    for _ in range(2):  # two actions that do not verify
        [rec] = await eng.handle([alert("web", 0, start=clock.t)])
        assert rec.status == "failed"
        clock.advance(1)
    for _ in range(2):
        [rec] = await eng.handle([alert("web", 0, start=clock.t)])
        assert refusal(rec)["rail"] == "circuit_breaker"
        clock.advance(1)
    assert len(sink.named("RemediationEscalated")) == 1
    assert eng.policies()[0].breaker_open
    clock.advance(600)
    [rec] = await eng.handle([alert("web", 0, start=clock.t)])  # half-open: one trial
    assert "started" in kinds(rec)
    assert not eng.policies()[0].breaker_open


async def test_global_max_concurrent() -> None:
    plat = SimPlatform({"a": 1, "b": 1})
    hung = plat.hang("restart_app")
    eng = engine([policy(verify=QUICK)], plat, rails=GlobalRails(cooldown=0, max_concurrent=1))
    t = asyncio.create_task(eng.handle([alert("a", 0)]))
    while plat.count("restart_app") == 0:
        await asyncio.sleep(0.01)
    [rec] = await eng.handle([alert("b", 0)])
    assert deferral(rec)["rail"] == "max_concurrent"
    hung.set()
    await t
    await runs_later(eng, rec.request.id)


async def test_all_rails_pass_when_nothing_stands_in_the_way() -> None:
    [rec] = await engine([policy(verify=QUICK)]).handle([alert("web", 0, start=T0)])
    assert kinds(rec)[:2] == ["requested", "started"]
