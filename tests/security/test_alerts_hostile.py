"""An alert sender flooding ``POST /api/v2/alerts`` against a real ``paramedic serve`` (issue 11, finding 11).

The target holds at most ``MAX_ALERTS`` active alerts. Batches of several megabytes must not stall the
event loop (they are parsed off it: no loop stall of 1 s or more, ``Target.assert_alive``, and ``/-/healthy``
keeps answering), alerts past the limit are refused with 429 and counted,
updates of the alerts already held still go through, and reading the alerts stays quick.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.support.hostile import HEALTHY_ANSWER_S, Target, metric, running_target

pytestmark = pytest.mark.timeout(240)

MAX_ALERTS = 2_000
BATCH = 3_500  # about 6.5 MB with the annotations below, as in the attack (the route's body cap is 8 MiB)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    extra = {"alerting": {"limits": {"max_alerts": MAX_ALERTS}}}
    with running_target(tmp_path_factory.mktemp("serve-alerts"), extra_config=extra) as t:
        yield t


def batch(prefix: str, n: int = BATCH) -> list[dict[str, object]]:
    return [
        {
            "labels": {"alertname": f"{prefix}{i}", "instance": f"host-{i}", "job": "flood"},
            "annotations": {"summary": "x" * 1_000, "description": "y" * 800},
        }
        for i in range(n)
    ]


def health_stalls(target: Target, stop: threading.Event) -> list[float]:
    """Answer times of /-/healthy of ``HEALTHY_ANSWER_S`` or more (or failures, as inf) while ``stop`` is not
    set. Stalls of the event loop itself (1 s or more) are counted by the server: ``Target.assert_alive``."""
    slow: list[float] = []
    with httpx.Client(timeout=HEALTHY_ANSWER_S) as c:
        while not stop.is_set():
            started = time.monotonic()
            try:
                ok = c.get(f"{target.base_url}/-/healthy").status_code == 200
            except httpx.HTTPError:
                ok = False
            took = time.monotonic() - started
            if not ok or took >= HEALTHY_ANSWER_S:
                slow.append(took if ok else float("inf"))
    return slow


@dataclass(frozen=True)
class Flood:
    statuses: list[tuple[int, str]]  # (status, start of the body) of each batch
    stalls: list[float]  # slow or failed /-/healthy answers meanwhile


@pytest.fixture(scope="module")
def flooded(target: Target) -> Flood:
    """The attack, sent once per module: four batches of ``BATCH`` alerts. It leaves the store at its cap,
    which the tests that update or read held alerts need, in whatever order the tests run."""
    stop = threading.Event()
    stalls: list[float] = []
    watcher = threading.Thread(target=lambda: stalls.extend(health_stalls(target, stop)), daemon=True)
    watcher.start()
    statuses = []
    try:
        with target.client("alert-sender", timeout_s=60) as c:
            for k in range(4):
                r = c.post("/api/v2/alerts", json=batch(f"Flood{k}_"))
                statuses.append((r.status_code, r.text[:200]))
    finally:
        stop.set()
        watcher.join()
    return Flood(statuses, stalls)


def test_flood_is_capped_and_health_keeps_answering(target: Target, flooded: Flood) -> None:
    statuses = flooded.statuses
    assert flooded.stalls == [], flooded.stalls
    assert statuses[0][0] == 429 and f"{BATCH - MAX_ALERTS} of {BATCH} alerts refused" in statuses[0][1]
    assert "alerting.limits.max_alerts" in statuses[0][1]
    assert all(code == 429 and f"{BATCH} of {BATCH} alerts refused" in text for code, text in statuses[1:])
    refused = metric(target, "paramedic_alerting_alerts_refused_total", reason="max_alerts")
    assert refused == 4 * BATCH - MAX_ALERTS
    target.assert_alive()


def test_updates_of_held_alerts_still_accepted(target: Target, flooded: Flood) -> None:
    with target.client("alert-sender") as c:
        r = c.post("/api/v2/alerts", json=batch("Flood0_", 10))
    assert r.status_code == 200, r.text
    target.assert_alive()


def test_reading_the_capped_store_is_quick(target: Target, flooded: Flood) -> None:
    with target.client("viewer", timeout_s=30) as c:
        for path in ("/api/v2/alerts", "/api/v2/alerts/groups"):
            started = time.monotonic()
            r = c.get(path)
            took = time.monotonic() - started
            assert r.status_code == 200
            alerts = r.json() if path.endswith("alerts") else [a for g in r.json() for a in g["alerts"]]
            assert len(alerts) == MAX_ALERTS
            assert took < 5, (path, took)
            target.assert_alive()


@pytest.mark.parametrize(
    ("path", "role"), [("/api/v2/alerts", "alert-sender"), ("/api/v2/silences", "operator")]
)
def test_deeply_nested_json_is_a_bad_request(target: Target, path: str, role: str) -> None:
    # 2 KB of nesting made Python's json raise RecursionError: a 500 and a reset connection (schema fuzz)
    with target.client(role) as c:
        for depth in (1000, 100_000):  # parsed then refused as not alerts; too deep to parse at all
            body = b"[" * depth + b"]" * depth
            r = c.post(path, content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 400, (depth, r.text)
        assert "invalid JSON body" in r.text
    target.assert_alive()
