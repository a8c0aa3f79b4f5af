"""A concurrent burst of mixed hostile requests (the catalogue of issue 11 that bench/hostile.py also fires)
leaves the server up and right: ``/-/healthy`` within 1 s, the ordinary query returns the exporter's value,
and no hostile HTTP request got a 5xx, a timeout or a dropped connection."""

from __future__ import annotations

from tests.support.hostile import Target
from tests.support.hostile_requests import CATALOGUE, burst_plan, prepare, run_burst

REQUESTS = 30
WORKERS = 8


def test_plan_fires_every_kind() -> None:
    plan = burst_plan(REQUESTS)
    assert len(plan) == REQUESTS
    assert set(plan) == set(CATALOGUE)
    assert plan == burst_plan(REQUESTS)  # deterministic


def test_burst_leaves_the_server_up_and_right(target: Target) -> None:
    prepare(target)
    burst = run_burst(target, REQUESTS, WORKERS)
    assert burst.died_during is None, (
        f"paramedic serve died ({burst.exit_code}) while these were in flight: {burst.died_during}\n"
        f"{target.proc.log_tail(60)}"
    )
    assert len(burst.outcomes) == REQUESTS
    target.assert_alive()
    assert burst.server_errors() == [], f"{burst.histogram()}\n{target.proc.log_tail(60)}"
