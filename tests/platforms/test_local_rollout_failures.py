"""The local platform when a rollout or a restart goes wrong: a release that never passes a health check, a
restart racing a weight change or failing half-way, a reconcile that failed before a rollback.

The live tests share one platform (``small_platform``: app ``shop``, 2 instances, module scope) and run in
file order; each ends with every instance of ``shop`` RUNNING and no deployment in progress. They shorten
``replace_wait_s`` (how long the platform waits for new instances) to keep a never-healthy release bounded.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from platforms.local import ComponentStartError, DeploymentError, PlatformState, _deploy
from platforms.local._metrics import platform_metrics
from platforms.local.errors import RouterError, SupervisorUnavailableError
from platforms.local.haproxy_runtime import HAProxyRuntime
from platforms.local.state import AppSpec, InstanceSpec
from tests.platforms.conftest import RunningPlatform
from tests.support.servers import wait_until

APP = "shop"
WAIT_S = 3.0  # replace_wait_s in the live tests: a hanging release costs this, not the default 15 s


def _codes(p: RunningPlatform, requests: int = 20) -> collections.Counter[tuple[int, str]]:
    """(status, app version) of ``requests`` answers through the router."""
    seen: collections.Counter[tuple[int, str]] = collections.Counter()
    with httpx.Client(timeout=5) as client:
        for _ in range(requests):
            resp = client.get(p.router, headers={"Host": f"{APP}.local", "Connection": "close"})
            seen[(resp.status_code, resp.headers.get("X-App-Version", ""))] += 1
    return seen


def _all_running(p: RunningPlatform, count: int = 2) -> Callable[[], bool]:
    def check() -> bool:
        insts = p.platform.app_instances(APP)
        return len(insts) == count and all(i.state == "RUNNING" for i in insts)

    return check


def _router(p: RunningPlatform) -> dict[str, tuple[str, int]]:
    return {s.server: (s.status, s.weight) for s in p.platform.router.servers() if s.backend == APP}


@pytest.fixture
def shop(small_platform: RunningPlatform) -> Iterator[RunningPlatform]:
    """``small_platform`` with every instance RUNNING, ``replace_wait_s`` shortened for the test."""
    p = small_platform
    wait_until(_all_running(p), 30, "shop's instances RUNNING")
    p.platform.replace_wait_s = WAIT_S
    try:
        yield p
    finally:
        p.platform.replace_wait_s = 15.0


# -- live ----------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_a_restart_racing_a_weight_change_ends_at_the_new_weight(
    shop: RunningPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart put its server back at the weight it read before stopping the instance: a deployment set to
    100 % meanwhile left the old instance serving (review: 12 of 60 answers from the old release)."""
    p = shop
    rev = p.platform.create_revision(APP, "2.1.0")
    dep = p.platform.start_deployment(APP, rev.id, 50)
    wait_until(lambda: p.platform.deployment(dep.id).state == "PAUSED", 20, "the deployment PAUSED")
    errors: list[BaseException] = []
    weight_set = threading.Event()
    real_start = p.platform.supervisor.start

    def start_after_the_weight_change(name: str, wait: bool = True) -> None:
        real_start(name, wait)
        weight_set.wait(30)  # the restart brings its server back only after the weight changed

    monkeypatch.setattr(p.platform.supervisor, "start", start_after_the_weight_change)

    def restart() -> None:
        try:
            p.platform.restart_instance(APP, 0)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=restart)
    thread.start()
    try:
        wait_until(lambda: _router(p)["shop-0"][0].startswith("MAINT"), 10, "shop-0 drained")
        p.platform.set_deployment_weight(dep.id, 100)
    finally:
        weight_set.set()
        thread.join(30)
    monkeypatch.undo()
    assert not thread.is_alive() and errors == []
    assert _router(p)["shop-0"][1] == 0
    assert set(_codes(p, 30)) == {(200, "2.1.0")}
    p.platform.promote_deployment(dep.id)
    wait_until(_all_running(p), 20, "the promoted release RUNNING")


@pytest.mark.integration
def test_a_failed_restart_puts_the_instance_back_in_the_router(
    shop: RunningPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """supervisord failing the stop after the drain left a running instance in maintenance for good."""
    p = shop
    index = p.platform.app_instances(APP)[0].index

    def unavailable(name: str) -> None:
        raise SupervisorUnavailableError("stopProcess", f"{name}: socket timed out (injected)")

    monkeypatch.setattr(p.platform.supervisor, "stop", unavailable)
    with pytest.raises(SupervisorUnavailableError):
        p.platform.restart_instance(APP, index)
    monkeypatch.undo()
    wait_until(_all_running(p), 10, "the instance back in the router after a passing check")
    assert all(weight > 0 for _, weight in _router(p).values())


@pytest.mark.integration
def test_a_deployment_at_100_pct_of_a_release_that_never_answers_keeps_the_old_serving(
    shop: RunningPlatform,
) -> None:
    """At 100 %, the old instances' weight went to 0 after the wait even when the new ones never passed a
    check (every answer 503 afterwards) and the call reported success. Now they keep their weight, the call
    raises naming the new servers, and the event is journaled."""
    p = shop
    old = set(_router(p))
    hang = p.platform.create_revision(APP, "9.9.1", env={"SAMPLE_APP_FAULT": "hang"})
    since = time.time()
    with pytest.raises(DeploymentError, match="did not pass a health check") as raised:
        p.platform.start_deployment(APP, hang.id, 100)
    new = set(_router(p)) - old
    assert new and all(server in str(raised.value) for server in new)
    assert all(_router(p)[server][1] > 0 for server in old)
    assert {status for status, _ in _codes(p)} == {200}
    events = p.platform.events(APP, since, time.time() + 1)
    assert "local.deployment.not_taken_over" in {e.type for e in events}
    active = p.platform.state().app(APP)
    assert active is not None
    deployment = active.active_deployment()
    assert deployment is not None
    p.platform.cancel_deployment(deployment.id)
    wait_until(_all_running(p), 20, "the old instances alone, RUNNING")


@pytest.mark.integration
def test_a_rolling_restart_stops_at_the_first_instance_that_does_not_come_back(shop: RunningPlatform) -> None:
    """A rolling restart of a release that never passes a check took ~17 s per instance and returned
    normally with every instance DOWN: it now stops at the first one and names it."""
    p = shop
    good = next(r.id for r in p.platform.revisions(APP) if r.current)
    hang = p.platform.create_revision(APP, "9.9.2", env={"SAMPLE_APP_FAULT": "hang"})
    p.platform.rollback(APP, hang.id)  # removes the old after WAIT_S: a bad release's own rollback
    first, second = (i.index for i in p.platform.app_instances(APP))
    pids = {i.index: i.details["pid"] for i in p.platform.app_instances(APP)}
    with pytest.raises(ComponentStartError, match=f"instance {first} .* before instances {second}$"):
        p.platform.restart_app(APP)
    after = {i.index: i.details["pid"] for i in p.platform.app_instances(APP)}
    assert after[first] != pids[first] and after[second] == pids[second]  # the second was not touched
    p.platform.rollback(APP, good)
    wait_until(_all_running(p), 20, "the good release RUNNING again")


# -- without processes ---------------------------------------------------------------------------------------


def _ports() -> Callable[[], int]:
    counter = iter(range(20_000, 21_000))
    return lambda: next(counter)


def test_indexes_are_never_reused_after_a_cancel() -> None:
    """A cancel whose reconcile failed leaves the canceled servers and programs behind; a rollback after it
    reused their indexes, so the canceled release kept serving under the rollback's names (review: 4 of 4
    answers from the bad release)."""
    state = PlatformState.new({"web": 2}, _ports())
    web = state.app("web")
    assert web is not None
    web, _ = _deploy.create_revision(web, "6.6.6", {})
    web, dep = _deploy.start(web, "v2", 100, _ports())  # instances 2, 3
    web, _ = _deploy.cancel(web, dep.id)  # persisted, then the reconcile failed: 2, 3 still serve
    rolled, _ = _deploy.rollback(web, "v1", _ports())
    assert [i.index for i in rolled.instances] == [4, 5]


def test_the_index_counter_survives_scale_in_and_a_save() -> None:
    spec = AppSpec("web", tuple(InstanceSpec(i, 20_000 + i) for i in range(4)))
    smaller = spec.with_instances(spec.instances[:1])
    loaded = AppSpec.from_json("web", smaller.to_json())
    assert loaded == smaller and loaded.next_index() == 4
    old_file = {"instances": [{"index": 0, "port": 1}, {"index": 1, "port": 2}]}  # before the counter
    assert AppSpec.from_json("web", old_file).next_index() == 2


class _FailingRuntime(HAProxyRuntime):
    """Fails one runtime command (by prefix), records every command sent."""

    def __init__(self, failing: str) -> None:
        super().__init__(Path("/nonexistent.sock"), platform_metrics(CollectorRegistry()))
        self.failing = failing
        self.sent: list[str] = []

    def command(self, cmd: str) -> str:
        self.sent.append(cmd)
        if cmd.startswith(self.failing):
            raise RouterError("command", "injected failure")
        return "\n"


def test_a_failed_enable_does_not_leave_the_server_at_weight_0() -> None:
    runtime = _FailingRuntime("set server shop/shop-1 health down")
    with pytest.raises(RouterError):
        runtime.enable_checked("shop", "shop-1", 3)
    assert runtime.sent[-1] == "set server shop/shop-1 weight 3"
