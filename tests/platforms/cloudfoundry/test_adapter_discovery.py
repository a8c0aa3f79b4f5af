"""Incremental discovery: a stable foundation costs the same 2 CC calls per cycle whatever its size; changes,
new apps, stats past their TTL and deletions (at the full resync) are still seen. Calls are counted from the
requests the fake recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from platforms.cloudfoundry import CloudFoundryPlatform
from tests.platforms.cloudfoundry.conftest import FakeClock, make_config
from tests.platforms.cloudfoundry.fake_cf import APP_GUID, WEB_GUID, WORKER_GUID, FakeCF, serve

EXTRA_APPS = 12


@pytest.fixture
def big() -> Iterator[FakeCF]:
    for fake in serve(FakeCF(page_size=5)):
        for n in range(EXTRA_APPS):
            fake.add_app(f"svc-{n}")
        yield fake


@pytest.fixture
def cf(big: FakeCF, clock: FakeClock, registry: CollectorRegistry) -> Iterator[CloudFoundryPlatform]:
    platform = CloudFoundryPlatform(
        make_config(big, stats_ttl_s=30, full_resync_s=300), registry=registry, clock=clock, sleep=clock.sleep
    )
    yield platform
    platform.close()


def _cycle(cf: CloudFoundryPlatform, fake: FakeCF) -> tuple[int, list[str]]:
    before = len(fake.cc_calls())
    targets = cf.discover()
    return len(fake.cc_calls()) - before, sorted(t.labels["app"] for t in targets)


def _calls(registry: CollectorRegistry) -> float:
    return registry.get_sample_value("paramedic_cf_discovery_cc_calls") or 0.0


def test_stable_foundation_costs_two_calls_per_cycle(
    cf: CloudFoundryPlatform, big: FakeCF, registry: CollectorRegistry, clock: FakeClock
) -> None:
    full, first = _cycle(cf, big)
    placed = EXTRA_APPS + 2  # one placed instance per new app, my_app's web (1 of 2) and worker
    assert len(first) == placed
    # apps: 15 over 3 pages, processes: 14 over 3 pages, one stats call per process with instances
    assert full == 3 + 3 + (EXTRA_APPS + 2)
    for _ in range(5):
        clock.now += 5
        calls, targets = _cycle(cf, big)
        assert (calls, targets) == (2, first)
        assert _calls(registry) == 2
    apps_q, procs_q = big.cc_calls()[-2:]
    assert (apps_q.path, procs_q.path) == ("/v3/apps", "/v3/processes")
    assert apps_q.query["updated_ats[gte]"] and procs_q.query["updated_ats[gte]"]
    assert apps_q.query["include"] == "space.organization"


def test_changes_and_new_apps_are_seen_incrementally(
    cf: CloudFoundryPlatform, big: FakeCF, clock: FakeClock
) -> None:
    _, first = _cycle(cf, big)
    cf.scale(APP_GUID, 1, process_type="worker")  # same count: the process changes (updated_at)
    cf.scale(APP_GUID, 3)  # web: 3 instances, index 0 placed
    clock.now += 5
    mark = len(big.cc_calls())
    calls, targets = _cycle(cf, big)
    assert calls == 2 + 2  # the two changed processes' stats are read again
    assert targets == first
    stats = sorted(r.path for r in big.cc_calls()[mark:] if r.path.endswith("/stats"))
    assert stats == sorted(f"/v3/processes/{g}/stats" for g in (WEB_GUID, WORKER_GUID))
    big.add_app("newcomer")
    clock.now += 5
    calls, targets = _cycle(cf, big)
    assert calls == 2 + 1 and "newcomer" in targets


def test_stats_are_read_again_after_their_ttl(
    cf: CloudFoundryPlatform, big: FakeCF, clock: FakeClock
) -> None:
    _cycle(cf, big)
    big.crash(WEB_GUID, 0, "APP/PROC/WEB: Exited with status 137 (out of memory)")
    clock.now += 5
    _, cached = _cycle(cf, big)
    assert "my_app" in cached  # within the TTL the crash is not seen yet
    clock.now += 30
    calls, targets = _cycle(cf, big)
    assert calls == 2 + EXTRA_APPS + 2
    assert targets.count("my_app") == 1  # only the worker is still placed


def test_deletions_are_seen_at_the_full_resync(
    cf: CloudFoundryPlatform, big: FakeCF, clock: FakeClock
) -> None:
    _cycle(cf, big)
    gone = next(g for g, a in big.apps.items() if a["name"] == "svc-3")
    with big.lock:
        del big.apps[gone]
        for guid in [
            g for g, p in big.processes.items() if p["relationships"]["app"]["data"]["guid"] == gone
        ]:
            del big.processes[guid]
    clock.now += 5
    assert "svc-3" in _cycle(cf, big)[1]  # incremental listings cannot see a deletion
    clock.now += 300
    calls, targets = _cycle(cf, big)
    assert "svc-3" not in targets and calls == 3 + 3 + EXTRA_APPS + 1  # stats past their TTL too
    assert gone not in cf.apps()
