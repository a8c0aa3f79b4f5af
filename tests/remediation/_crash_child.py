"""Child process of the crash test: a live restart_app policy on SQLite audit over a SimPlatform whose
restart_app blocks forever (after writing the call to ``calls.jsonl``); the parent SIGKILLs us mid-call."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from remediation.audit import SqliteAuditLog
from remediation.sim import SimPlatform
from tests.remediation._support import alert, engine, policy


async def main(workdir: Path) -> None:
    plat = SimPlatform({"web": 2}, record_to=workdir / "calls.jsonl")
    plat.hang("restart_app")
    eng = engine([policy()], plat, audit=SqliteAuditLog(workdir / "audit.db"))
    await eng.handle([alert()])


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
