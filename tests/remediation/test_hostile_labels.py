"""Alerts whose labels a tenant shaped (its own series carry ``app_instance``) against the engine's loop.

An instance label that ``str.isdigit()`` accepts but ``int()`` refuses (``"²"``, more than 4300 digits) used
to raise inside planning: the worker logged "processing N alerts failed" and every later alert of the same
batch (other apps', other tenants') was lost without a trace in the audit trail."""

from __future__ import annotations

import asyncio
import time

import pytest

from platforms.base import Instance
from remediation.audit import AuditLogError, MemoryAuditLog
from remediation.model import ActionRequest
from remediation.sim import SimPlatform
from tests.remediation._support import Clock, alert, engine, kinds, policy

BAD_INDEXES = ["\u00b2", "\u0663", "9" * 5000, "1" * 10]


@pytest.mark.parametrize("bad", BAD_INDEXES, ids=["superscript", "arabic-indic", "5000-digits", "10-digits"])
async def test_a_bad_instance_label_is_refused_and_the_rest_of_the_batch_still_acts(bad: str) -> None:
    plat = SimPlatform({"web": 2, "api": 2})
    eng = engine([policy(action={"type": "restart_instance"})], plat, clock=Clock())
    await eng.start()
    try:
        eng.put([alert("web", 0), alert("api", None, app_instance=bad), alert("api", 1)])
        deadline = time.monotonic() + 10.0
        while len(eng.audit.query(limit=10)) < 3:
            assert time.monotonic() < deadline, [str(r.request.target) for r in eng.audit.query(limit=10)]
            await asyncio.sleep(0.01)
        assert await eng.drain(10.0)
    finally:
        await eng.stop()
    by_target = {str(r.request.target): r for r in eng.audit.query(limit=10)}
    refused = by_target.pop("api")
    assert refused.status == "refused" and kinds(refused)[-1] == "refused"
    assert refused.events[-1].data["rail"] == "target"
    assert "is not an instance index" in refused.events[-1].data["reason"]
    assert set(by_target) == {"web/0", "api/1"}
    assert sorted(c.args for c in plat.calls if c.name == "restart_instance") == [("api", 1), ("web", 0)]


class GarbagePlatform(SimPlatform):
    """Answers garbage (a body that is not JSON: ``ValueError``, not ``PlatformError``) for ``api``'s
    instances, as an adapter bug or a hostile API could."""

    def app_instances(self, app: str) -> list[Instance]:
        if app == "api":
            raise ValueError("Expecting value: line 1 column 1 (char 0)")
        return super().app_instances(app)


async def test_a_platform_answering_garbage_loses_no_alert_and_leaves_no_action_undecided() -> None:
    """The blast-radius rail's instance count read raised out of the engine: ``handle`` raised, ``api/0``
    stayed ``requested`` (never decided) and ``web/0`` of the same batch was never recorded."""
    plat = GarbagePlatform({"web": 2, "api": 2})
    eng = engine([policy(action={"type": "restart_instance"})], plat, clock=Clock())
    recs = await eng.handle([alert("api", 0), alert("web", 0)])
    status = {str(r.request.target): r.status for r in recs}
    assert status["api/0"] == "deferred"  # unknown instance count: blast radius says not now
    assert status["web/0"] != "requested" and "started" in kinds(eng.audit.get(recs[1].request.id))
    assert [c.args for c in plat.calls if c.name == "restart_instance"] == [("web", 0)]


async def test_a_journal_that_refuses_writes_still_stops_the_batch() -> None:
    """Only planning is isolated per alert: the engine must not act without its journal, and a deposed
    leader learns it from the fenced journal's error (``FencedOutError``) out of ``handle``."""

    class Refusing(MemoryAuditLog):
        def record(self, request: ActionRequest) -> bool:
            raise AuditLogError("disk full")

    plat = SimPlatform({"web": 2})
    eng = engine([policy()], plat, audit=Refusing(), clock=Clock())
    with pytest.raises(AuditLogError, match="disk full"):
        await eng.handle([alert("web", 0), alert("web", 1)])
    assert plat.count("restart_app") == 0
