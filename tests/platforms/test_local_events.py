"""LocalPlatform implements platforms.base.EventSource: its write verbs are journaled (platforms.local.events)
and a crashed instance is read from supervisord, on a real local platform; the journal alone is tested
without one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from platforms.base import EventSource, PlatformEvent
from platforms.events import PlatformEventFeed
from platforms.local.events import EventJournal, crash_events
from platforms.local.fault_client import inject_fault
from tests.platforms.conftest import RunningPlatform, running_platform


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("plat"), {"shop": 2, "blog": 1}) as platform:
        yield platform


def _poll(fn: object, timeout_s: float = 20.0) -> list[PlatformEvent]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = fn()  # type: ignore[operator]
        if found or time.monotonic() > deadline:
            return list(found)
        time.sleep(0.2)


def test_verbs_and_a_crash_are_platform_events(shop: RunningPlatform) -> None:
    p = shop.platform
    assert isinstance(p, EventSource)
    t0 = time.time() - 1
    p.scale("shop", 3)
    p.restart_instance("shop", 0)
    inject_fault(p.paths, "shop", "crash", 1)

    def crashes() -> list[PlatformEvent]:
        return [e for e in p.events("shop", t0, time.time() + 1) if e.kind == "crash"]

    [crash] = _poll(crashes)
    assert crash.details["index"] == "1"
    events = p.events("shop", t0, time.time() + 1)
    assert [e.kind for e in events if e.kind != "crash"] == ["scale", "restart"]
    assert events[0].details == {"instances": "3"}
    assert all(e.app == "shop" for e in events)
    assert p.events("blog", t0, time.time() + 1) == []  # another app's events stay its own
    lines, note = PlatformEventFeed(p).summary("shop", t0, time.time() + 1)
    assert note == "" and "1 crash of instance 1 in the last 1 min" in lines


def test_journal_survives_missing_files_bad_lines_and_grows_bounded(tmp_path: Path) -> None:
    journal = EventJournal(tmp_path / "events.jsonl", max_bytes=2000, clock=lambda: 100.0)
    assert journal.read(None, 0, 1e12) == []  # an old state dir: no journal yet
    for i in range(40):
        journal.add("shop", "scale", "local.app.scale", f"{i} instances", {"instances": str(i)})
    (tmp_path / "events.jsonl").open("a").write("not json\n")
    found = journal.read("shop", 0, 1e12)
    assert 0 < len(found) < 40 and found[-1].summary == "39 instances"
    assert (tmp_path / "events.jsonl").stat().st_size <= 2100


def test_crash_events_from_process_info() -> None:
    programs = {"shop-0": ("shop", 0), "shop-1": ("shop", 1), "shop-2": ("shop", 2)}
    procs = [
        {"name": "shop-0", "statename": "RUNNING", "start": 200.0, "stop": 150.0},  # crashed, restarted
        {"name": "shop-1", "statename": "RUNNING", "start": 200.0, "stop": 150.0},  # restarted by us
        {"name": "shop-2", "statename": "RUNNING", "start": 100.0, "stop": 0},  # never stopped
        {"name": "other-0", "statename": "FATAL", "start": 100.0, "stop": 150.0},  # not an instance
    ]
    ours = [PlatformEvent(152.0, "shop", "restart", "local.instance.restart", "", "", {"index": "1"})]
    [crash] = crash_events(procs, programs, ours)
    assert (crash.app, crash.time, crash.details["index"]) == ("shop", 150.0, "0")
    app_restart = [PlatformEvent(170.0, "shop", "restart", "local.app.restart", "")]
    assert crash_events(procs, programs, app_restart) == []
