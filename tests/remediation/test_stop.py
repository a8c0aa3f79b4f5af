"""Stopping the engine: an action that is only waiting on its verification does not hold the stop up (it is
applied; the next start's recovery verifies it), unless a failed verification may still revert it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from remediation.audit import SqliteAuditLog
from remediation.sim import SimPlatform
from tests.remediation._support import T0, alert, engine, kinds, policy, resolved, wait_status

LONG_VERIFY = {"deadline": 60, "on_failure": "escalate"}
DONE = {"verified", "failed", "escalated", "reverted", "verification_failed"}


async def test_stop_interrupts_a_verification_and_the_next_start_verifies_it(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    a = alert("web", 0)
    eng1 = engine([policy(verify=LONG_VERIFY)], SimPlatform({"web": 2}), audit=SqliteAuditLog(db))
    await eng1.start()
    eng1.put([a])
    action_id = eng1.plan(a)[0].id
    await wait_status(eng1, action_id, {"verifying"})
    t0 = time.monotonic()
    await eng1.stop(timeout_s=30)
    assert time.monotonic() - t0 < 10  # not the 30 s drain, nor the 60 s verification deadline
    assert eng1.audit.get(action_id).status == "verifying"  # type: ignore[union-attr]

    plat2 = SimPlatform({"web": 2})
    eng2 = engine([policy(verify=LONG_VERIFY)], plat2, audit=SqliteAuditLog(db))
    await eng2.start()
    try:
        recovered = await eng2.recover()
        assert {r.request.id: r.status for r in recovered} == {action_id: "interrupted"}
        eng2.put([resolved(a, T0)])
        rec = await wait_status(eng2, action_id, DONE)
    finally:
        await eng2.stop()
    assert rec.status == "verified"
    assert kinds(rec).count("started") == 1 and "interrupted" in kinds(rec)
    assert plat2.count("restart_app") == 0  # never applied again


async def test_stop_waits_for_a_verification_that_may_still_revert(tmp_path: Path) -> None:
    a = alert("web", None)
    scale = policy(
        action={"type": "scale", "adjustment": "+1", "max_instances": 4},
        target={"app_label": "app"},
        verify={"deadline": 0.5, "on_failure": "revert"},
    )
    plat = SimPlatform({"web": 2})
    eng = engine([scale], plat, audit=SqliteAuditLog(tmp_path / "audit.db"))
    await eng.start()
    eng.put([a])
    action_id = eng.plan(a)[0].id
    await wait_status(eng, action_id, {"verifying"})
    stopping = asyncio.create_task(eng.stop(timeout_s=30))
    rec = await wait_status(eng, action_id, {"reverted", "escalated", "verification_failed"})
    await stopping
    assert "verification_failed" in kinds(rec)  # it was let finish, and its revert ran
    assert len(plat.app_instances("web")) == 2 and plat.count("scale") == 2
