"""Alert storm against a running engine.

SLOW, REAL-TIME: this test runs for 40 s of wall-clock time on purpose (40,000 alerts, 1,000 per second
through ``put()`` from another thread, as the rule manager would send them; longer on a loaded machine, where
the feeder catches up instead of stopping short): longer than the 30 s global cooldown, so the first actions'
cooldowns run out mid-storm and the budget alone must hold (60 s until 2026-12-07 proved nothing more).
Everything else in tests/remediation is fast. The audit log is the in-memory one (same contract as SQLite) so
the fsync rate of a shared CI disk does not decide the outcome.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

from alerting.model import Alert
from remediation.audit import MemoryAuditLog
from remediation.config import GlobalRails
from remediation.engine import utc_now
from remediation.sim import SimPlatform
from tests.remediation._support import T0, engine, policy

RATE = 1000
SECONDS = 40  # > the 30 s cooldown below
APPS = [f"app{i}" for i in range(50)]


def feed(eng_put: object, stop: threading.Event) -> int:
    put = eng_put  # RemediationEngine.put
    sent = 0
    t0 = time.monotonic()
    tick = 0
    # RATE * SECONDS alerts paced at RATE per second; a feeder that falls behind its schedule (a loaded
    # machine) sends without pausing until it has caught up, and never stops short of the whole storm.
    while not stop.is_set() and sent < RATE * SECONDS:
        batch = []
        for j in range(RATE // 10):
            n = sent + j
            app = APPS[n % len(APPS)]
            # Half distinct occurrences, half repeats of a small set of the same occurrences.
            key = str(n) if n % 2 else str(n % 200)
            batch.append(
                Alert({"alertname": "Down", "app": app, "app_instance": "0", "k": key}, {}, starts_at=T0)
            )
        put(batch)  # type: ignore[operator]
        sent += len(batch)
        tick += 1
        delay = t0 + tick / 10 - time.monotonic()  # pace to the schedule, not a fixed sleep
        if delay > 0:
            stop.wait(delay)
    return sent


async def test_storm_never_exceeds_budget_and_never_duplicates() -> None:
    plat = SimPlatform(dict.fromkeys(APPS, 2))
    audit = MemoryAuditLog()
    p = policy(
        verify={"deadline": 0, "on_failure": "none"}, rails={"budget": {"max_actions": 20, "window": "1h"}}
    )
    eng = engine(
        [p],
        plat,
        audit=audit,
        rails=GlobalRails(cooldown=30, budget={"max_actions": 25, "window": 3600}),
        clock=utc_now,
    )
    await eng.start()
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(feed(eng.put, stop)))
    thread.start()
    try:
        while thread.is_alive():
            await asyncio.sleep(0.2)
        deadline = time.monotonic() + 60
        while eng._queue and time.monotonic() < deadline:  # let the worker catch up
            await asyncio.sleep(0.2)
        assert await eng.drain(30)
    finally:
        stop.set()
        thread.join(5)
        await eng.stop()
    assert result == [RATE * SECONDS], result
    assert not eng._queue, "the engine fell behind the storm"
    records = audit.query(limit=10**6)
    started = [r for r in records if any(e.kind == "started" for e in r.events)]
    assert 0 < len(started) <= 20
    per_request = Counter(
        r.request.id
        for r in started
        for e in r.events
        if e.kind == "platform_call" and e.data["call"] == "restart_app"
    )
    assert all(v == 1 for v in per_request.values()), per_request
    assert plat.count("restart_app") == len(started)
    distinct = {str(n) if n % 2 else str(n % 200) for n in range(result[0])}
    assert len(records) == len(distinct)  # one request per alert occurrence: repeats deduplicated
    # Deferral stays bounded: one entry per request id, one audit event per change of rail (not per re-check).
    assert len(eng._deferred) <= len(records)
    assert max(sum(1 for e in r.events if e.kind == "deferred") for r in records) <= 4
