"""Crash safety: an engine SIGKILLed in the middle of a platform call never applies the action again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from remediation.audit import SqliteAuditLog
from remediation.sim import SimPlatform
from tests.remediation._support import REPO, alert, engine, kinds, policy
from tests.support.servers import wait_until


async def test_sigkill_mid_action_then_recover_marks_interrupted(tmp_path: Path) -> None:
    calls = tmp_path / "calls.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.remediation._crash_child", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: calls.exists() and "restart_app" in calls.read_text(), 30, "the child's restart")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL

    # Restart: same audit file, a platform recording to the same call file.
    plat = SimPlatform({"web": 2}, record_to=calls)
    audit = SqliteAuditLog(tmp_path / "audit.db")
    eng = engine([policy(verify={"deadline": 0.1, "on_failure": "escalate"})], plat, audit=audit)
    [rec] = await eng.recover()
    assert kinds(rec)[:3] == ["requested", "started", "interrupted"]
    assert await eng.drain(5)
    assert await eng.handle([alert()]) == []  # the same alert occurrence is a known request: ignored
    final = eng.audit.get(rec.request.id)
    assert final is not None and final.status == "escalated"  # not verified: the alert never resolved
    lines = [ln for ln in calls.read_text().splitlines() if "restart_app" in ln]
    assert len(lines) == 1, lines
    assert plat.count("restart_app") == 0
