"""Engine pipeline: plan, dedup, dry-run default, execution, verification, escalation, revert, retries."""

from __future__ import annotations

import asyncio

from remediation.audit import MemoryAuditLog
from remediation.config import Policy
from remediation.sim import SimPlatform
from tests.remediation._support import T0, Clock, Sink, alert, engine, kinds, policy, resolved


async def test_plan_is_pure_and_names_the_target() -> None:
    eng = engine([policy(action={"type": "restart_instance"})])
    reqs = eng.plan(alert("web", 2))
    assert [(r.action, str(r.target), r.mode) for r in reqs] == [("restart_instance", "web/2", "live")]
    assert len(reqs[0].policy_version) == 12
    assert eng.plan(alert("web", 2, alertname="Other")) == []
    assert eng.audit.query() == []


async def test_repeats_of_one_alert_occurrence_are_deduplicated() -> None:
    plat = SimPlatform({"web": 2})
    eng = engine([policy()], plat)
    a = alert("web", 0)
    first = await eng.handle([a])
    again = await eng.handle([a, a])
    assert len(first) == 1 and again == []
    assert plat.count("restart_app") == 1


async def test_new_policy_defaults_to_dry_run() -> None:
    raw = policy().model_dump()
    raw.pop("mode")
    plat = SimPlatform({"web": 2})
    eng = engine([Policy.model_validate(raw)], plat)
    [rec] = await eng.handle([alert()])
    assert rec.status == "dry_run"
    assert rec.events[-1].data["would"] == "restart_app web"
    assert plat.count("restart_app") == 0


async def test_missing_label_is_an_audited_refusal() -> None:
    eng = engine([policy(action={"type": "restart_instance"})])
    [rec] = await eng.handle([alert("web", None)])
    assert rec.status == "refused"
    assert rec.events[-1].data == {"rail": "target", "reason": "alert lacks label app_instance"}


async def test_verification_success_via_resolved_alert() -> None:
    clock = Clock()
    plat = SimPlatform({"web": 2})
    eng = engine([policy(verify={"deadline": 5})], plat, clock=clock)
    a = alert()

    async def resolve_later() -> None:
        while plat.count("restart_app") == 0:
            await asyncio.sleep(0.01)
        eng.put([resolved(a, T0)])

    task = asyncio.create_task(resolve_later())
    [rec] = await eng.handle([a])
    await task
    assert rec.status == "verified"
    assert kinds(rec) == ["requested", "started", "platform_call", "succeeded", "verified"]


async def test_verification_failure_escalates() -> None:
    sink = Sink()
    eng = engine([policy()], notify=sink)
    [rec] = await eng.handle([alert()])
    assert rec.status == "escalated"
    assert kinds(rec)[-2:] == ["verification_failed", "escalated"]
    [esc] = sink.named("RemediationEscalated")
    assert esc.labels["action_id"] == rec.request.id and "not verified" in esc.annotations["description"]


async def test_verification_failure_reverts_a_scale() -> None:
    plat = SimPlatform({"web": 2})
    p = policy(action={"type": "scale", "adjustment": "+2"}, verify={"deadline": 0.1, "on_failure": "revert"})
    [rec] = await engine([p], plat).handle([alert()])
    assert rec.status == "reverted"
    assert [c.args for c in plat.calls if c.name == "scale"] == [("web", 4), ("web", 2)]


async def test_verification_by_expr_query() -> None:
    answers: list[list[tuple[dict[str, str], float]]] = [[({"app": "web"}, 1.0)], []]

    async def query(expr: str) -> list[tuple[dict[str, str], float]]:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    p = policy(verify={"deadline": 5, "expr": 'up{app="web"} == 0'})
    eng = engine([p], query=query)
    eng._verifier._query_poll_s = 0.01  # type: ignore[attr-defined]
    [rec] = await eng.handle([alert()])
    assert rec.status == "verified"
    assert "no series" in rec.events[-1].data["observed"]


async def test_platform_failure_is_retried_with_backoff_then_failed() -> None:
    plat = SimPlatform({"web": 2})
    plat.fail("restart_app", times=10)
    sink = Sink()
    eng = engine([policy()], plat, retries=2, backoff_s=0.05, notify=sink)
    t0 = asyncio.get_running_loop().time()
    [rec] = await eng.handle([alert()])
    elapsed = asyncio.get_running_loop().time() - t0
    assert rec.status == "escalated"
    calls = [e for e in rec.events if e.kind == "platform_call"]
    assert [c.data["attempt"] for c in calls] == [1, 2, 3]
    assert all("injected failure" in c.data["error"] for c in calls)
    assert "failed" in kinds(rec)
    assert elapsed >= 0.05 + 0.1  # backoff 0.05 then 0.1
    assert plat.count("restart_app") == 3


async def test_platform_failure_recovers_within_retries() -> None:
    plat = SimPlatform({"web": 2})
    plat.fail("restart_app", times=1)
    [rec] = await engine([policy(verify={"deadline": 0, "on_failure": "none"})], plat).handle([alert()])
    assert "succeeded" in kinds(rec)
    assert plat.count("restart_app") == 2


async def test_scale_and_rollback_actions() -> None:
    plat = SimPlatform({"web": 4})
    p1 = policy("scale", action={"type": "scale", "adjustment": "+50%", "max_instances": 5})
    p2 = policy("rb", action={"type": "rollback"}, trigger={"matchers": ['alertname="Bad"']})
    eng = engine([p1, p2], plat)
    await eng.handle([alert("web", None)])
    assert len(plat.app_instances("web")) == 5  # 4 + 2 clamped to 5
    await eng.handle([alert("web", None, alertname="Bad")])
    assert [r.id for r in plat.revisions("web") if r.current] == ["v1"]


async def test_simulate_makes_no_mutating_call() -> None:
    plat = SimPlatform({"web": 2})
    [rec] = await engine([policy()], plat, simulate=True).handle([alert()])
    assert plat.count("restart_app") == 0
    call = next(e for e in rec.events if e.kind == "platform_call")
    assert call.data["simulated"] is True


async def test_put_and_worker() -> None:
    plat = SimPlatform({"web": 2})
    eng = engine([policy(verify={"deadline": 0, "on_failure": "none"})], plat, audit=MemoryAuditLog())
    await eng.start()
    try:
        eng.put([alert()])
        for _ in range(200):
            if eng.audit.query(status="failed") or plat.count("restart_app"):
                break
            await asyncio.sleep(0.01)
        await eng.drain(5)
    finally:
        await eng.stop()
    assert plat.count("restart_app") == 1
