"""The local platform's deployment and restart windows, live (real HAProxy, supervisord, sample apps).

a. HAProxy restarted during a deployment at 100 % whose new instances do not answer yet: the config written
   from the state must keep the old servers serving (it had old 0, new 100: every answer 503).
b. A deployment at 100 % waits for its new instances without holding the state lock: another app's action
   completes meanwhile (it waited up to ``replace_wait_s``), and a change made meanwhile wins.
c. A restart's drained server stays out of the router while another *process* reconciles.
d. A rollback made during a deployment's wait is not carried out early by the deployment's end, and HAProxy
   restarted during a rollback keeps the replaced servers serving.

One platform for the module (apps ``shop``, 2 instances, and ``cart``, 1), tests in file order, each ending
with no deployment in progress and every instance RUNNING.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from platforms.local import DeploymentError, LocalPlatformError
from tests.platforms._traffic import RouterTraffic
from tests.platforms.conftest import RunningPlatform, running_platform
from tests.support.servers import wait_until

APP = "shop"
OTHER = "cart"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("plat"), {APP: 2, OTHER: 1}) as platform:
        yield platform


def _all_running(p: RunningPlatform, app: str, count: int) -> Callable[[], bool]:
    def check() -> bool:
        insts = p.platform.app_instances(app)
        return len(insts) == count and all(i.state == "RUNNING" for i in insts)

    return check


@pytest.fixture
def plat(two_apps: RunningPlatform) -> Iterator[RunningPlatform]:
    p = two_apps
    wait_until(_all_running(p, APP, 2), 30, "shop's instances RUNNING")
    wait_until(_all_running(p, OTHER, 1), 30, "cart's instance RUNNING")
    yield p
    p.platform.replace_wait_s = 15.0


def _active_id(p: RunningPlatform) -> str:
    spec = p.platform.state().app(APP)
    assert spec is not None
    active = spec.active_deployment()
    assert active is not None
    return active.id


def test_a_haproxy_restart_during_a_deployment_at_100_pct_not_yet_answering_keeps_serving(
    plat: RunningPlatform,
) -> None:
    """(a) The new instances open their port 8 s after they start; the call gives up waiting after 1 s
    (DeploymentError, the old ones keep their weight), then HAProxy restarts from the written config. It
    had old 0 and new 100, new counted UP before a check: 503 until the new ones answered. Now the old ones
    serve; a retry once the new ones answer completes the deployment, also across the restart."""
    p = plat
    slow = p.platform.create_revision(APP, "3.0.1", env={"SAMPLE_APP_START_DELAY_MS": "8000"})
    p.platform.replace_wait_s = 1.0
    with RouterTraffic(p, APP) as traffic:
        traffic.phase = "deploy"
        with pytest.raises(DeploymentError):
            p.platform.start_deployment(APP, slow.id, 100)
        traffic.phase = "restart"
        p.runner.start_router()
        traffic.phase = "restarted"
        wait_until(lambda: traffic.answers("restarted") >= 50, 10, "answers after the router restart")
        p.platform.replace_wait_s = 20.0
        dep = p.platform.set_deployment_weight(_active_id(p), 100)  # waits for the new ones, then takes over
        traffic.phase = "taken_over"
        wait_until(lambda: traffic.answers("taken_over") >= 20, 10, "answers after the take-over")
        traffic.phase = "restart_again"
        p.runner.start_router()  # taken over: the config has the new ones at 100 now
        traffic.phase = "after"
        wait_until(lambda: traffic.answers("after") >= 20, 10, "answers after the second restart")
    codes = traffic.http_codes()
    assert all(set(c) <= {200} for c in codes.values()), f"{codes}"
    versions = {
        httpx.get(p.router, headers={"Host": f"{APP}.local"}, timeout=5).headers.get("X-App-Version")
        for _ in range(10)
    }
    assert versions == {"3.0.1"}, versions
    p.platform.promote_deployment(dep.id)
    wait_until(_all_running(p, APP, 2), 30, "the new release's instances alone")


def test_another_apps_scale_completes_while_a_deployment_waits(plat: RunningPlatform) -> None:
    """(b) A deployment at 100 % of a release that opens its port after 6 s waits for it; that wait held the
    state lock, so scaling another app waited for it too. Now the scale returns while the deployment still
    waits, and the deployment completes."""
    p = plat
    slow = p.platform.create_revision(APP, "3.0.2", env={"SAMPLE_APP_START_DELAY_MS": "6000"})
    done = threading.Event()
    errors: list[BaseException] = []

    def deploy() -> None:
        try:
            p.platform.start_deployment(APP, slow.id, 100)
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            done.set()

    deployer = threading.Thread(target=deploy, daemon=True)
    deployer.start()
    wait_until(lambda: len(p.platform.instances(APP)) == 4, 10, "the deployment's new instances")
    started = time.monotonic()
    p.platform.scale(OTHER, 2)
    took = time.monotonic() - started
    still_waiting = not done.is_set()
    print(f"scale of {OTHER} took {took:.2f} s (wall) while {APP}'s deployment waited")  # shown with -rP
    deployer.join(30)
    assert not errors, errors
    assert still_waiting, f"scale of {OTHER} took {took:.1f} s: it waited for {APP}'s deployment"
    p.platform.promote_deployment(_active_id_or_last(p))
    p.platform.scale(OTHER, 1)
    wait_until(_all_running(p, APP, 2), 30, "the new release's instances alone")


def _active_id_or_last(p: RunningPlatform) -> str:
    spec = p.platform.state().app(APP)
    assert spec is not None
    return spec.deployments[-1].id


def test_a_cancel_while_a_deployment_waits_wins(plat: RunningPlatform) -> None:
    """(b) A cancel made while a deployment at 100 % waits (now unlocked) is not undone by the deployment's
    end: the router ends with the old instances alone at their weight, every answer 200."""
    p = plat
    slow = p.platform.create_revision(APP, "3.0.3", env={"SAMPLE_APP_START_DELAY_MS": "5000"})
    before = {i.revision for i in p.platform.instances(APP)}
    results: list[object] = []
    with RouterTraffic(p, APP) as traffic:
        traffic.phase = "deploy"
        deployer = threading.Thread(
            target=lambda: results.append(_call(lambda: p.platform.start_deployment(APP, slow.id, 100))),
            daemon=True,
        )
        deployer.start()
        wait_until(lambda: len(p.platform.instances(APP)) == 4, 10, "the deployment's new instances")
        dep_id = _active_id(p)
        p.platform.cancel_deployment(dep_id)
        cancel_returned_first = deployer.is_alive()  # the cancel did not wait for the deployment's wait
        deployer.join(30)
        traffic.phase = "after"
        wait_until(lambda: traffic.answers("after") >= 20, 10, "answers after the cancel")
    codes = traffic.http_codes()
    assert all(set(c) <= {200} for c in codes.values()), f"{codes}"
    assert p.platform.deployment(dep_id).state == "CANCELED"
    assert {i.revision for i in p.platform.instances(APP)} == before
    servers = [s for s in p.platform.router.servers() if s.backend == APP]
    assert len(servers) == 2 and all(s.weight == 1 for s in servers), servers
    assert cancel_returned_first, "the cancel waited for the deployment's wait (the state lock held)"
    assert len(results) == 1 and isinstance(results[0], DeploymentError), results
    assert "superseded" in str(results[0]), results[0]  # not the cancel's outcome reported as success


def test_a_rollback_during_a_deployments_wait_is_not_carried_out_by_the_deployments_end(
    plat: RunningPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment at 100 % of a release that never answers in time waits (unlocked, 6 s); meanwhile a
    rollback to a release that answers after 8 s waits for its own new instances. The deployment's wait
    ended first and its final reconcile applied the rollback's state: it removed the old servers at once,
    leaving only the rollback's unanswering ones (4,456 × 503 in the review's run). Now they stay until the
    rollback's new ones serve, and the deployment raises (superseded) instead of returning CANCELED."""
    p = plat
    slow = p.platform.create_revision(APP, "3.0.4", env={"SAMPLE_APP_START_DELAY_MS": "60000"})
    target = p.platform.create_revision(APP, "3.0.5", env={"SAMPLE_APP_START_DELAY_MS": "8000"})
    p.platform.replace_wait_s = 6.0  # the deployment's wait
    results: list[object] = []
    waiting = threading.Event()
    real_not_serving = p.platform._not_serving

    def not_serving(keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        if threading.current_thread() is deployer:
            waiting.set()  # its deadline is set: the rollback may get a longer one
        return real_not_serving(keys)

    monkeypatch.setattr(p.platform, "_not_serving", not_serving)
    with RouterTraffic(p, APP) as traffic:
        traffic.phase = "race"
        deployer = threading.Thread(
            target=lambda: results.append(_call(lambda: p.platform.start_deployment(APP, slow.id, 100))),
            daemon=True,
        )
        deployer.start()
        assert waiting.wait(10), "the deployment did not reach its wait"
        p.platform.replace_wait_s = (
            30.0  # the rollback's: its new ones serve ~9 s in, after the deployment's 6 s
        )
        p.platform.rollback(APP, target.id)
        deployer.join(30)
        traffic.phase = "after"
        wait_until(lambda: traffic.answers("after") >= 20, 10, "answers after the rollback")
    codes = traffic.http_codes()
    assert all(set(c) <= {200} for c in codes.values()), f"{codes}"
    assert len(results) == 1 and isinstance(results[0], DeploymentError), results
    assert "superseded" in str(results[0]), results[0]
    assert {i.revision for i in p.platform.instances(APP)} == {target.id}
    assert len([s for s in p.platform.router.servers() if s.backend == APP]) == 2
    wait_until(_all_running(p, APP, 2), 30, "the rollback's instances alone")


def _rollback_waiting(p: RunningPlatform, revision: str, results: list[object]) -> threading.Thread:
    """A rollback of ``shop`` to ``revision`` on a thread (its outcome appended to ``results``), returned once
    its new servers are in the router beside the replaced ones (it then waits for them, unlocked)."""
    roller = threading.Thread(
        target=lambda: results.append(_call(lambda: p.platform.rollback(APP, revision))), daemon=True
    )
    roller.start()
    wait_until(
        lambda: len([s for s in p.platform.router.servers() if s.backend == APP]) == 4,
        10,
        "the rollback's new servers in the router",
    )
    return roller


def test_a_haproxy_restart_during_a_rollback_keeps_serving(plat: RunningPlatform) -> None:
    """A rollback to a release that answers after 8 s; HAProxy restarts from the written config 1.5 s in.
    The config had only the new servers (counted UP before a check): 503 until they answered (814 in the
    review's run), and the rollback's wait died on the refused stats socket (RouterUnavailableError), its
    reconcile half done. Now the config keeps the replaced servers serving and the wait rides the restart."""
    p = plat
    target = p.platform.create_revision(APP, "3.0.6", env={"SAMPLE_APP_START_DELAY_MS": "8000"})
    p.platform.replace_wait_s = 20.0
    results: list[object] = []
    with RouterTraffic(p, APP) as traffic:
        traffic.phase = "rollback"
        roller = _rollback_waiting(p, target.id, results)
        restarted_mid_wait = roller.is_alive()  # still waiting for its new ones (they answer after 8 s)
        traffic.phase = "restart"
        p.runner.start_router()
        traffic.phase = "restarted"
        roller.join(40)
        traffic.phase = "after"
        wait_until(lambda: traffic.answers("after") >= 20, 10, "answers after the rollback")
    codes = traffic.http_codes()
    assert restarted_mid_wait, "the rollback ended before HAProxy restarted: nothing was tested"
    assert all(set(c) <= {200} for c in codes.values()), f"{codes}"
    assert len(results) == 1 and not isinstance(results[0], BaseException), results
    assert {i.revision for i in p.platform.instances(APP)} == {target.id}
    spec = p.platform.state().app(APP)
    assert spec is not None and spec.retiring == ()  # cleared once the new ones served
    servers = [s for s in p.platform.router.servers() if s.backend == APP]
    assert len(servers) == 2 and all(s.weight == 1 for s in servers), servers
    wait_until(_all_running(p, APP, 2), 30, "the rollback's instances alone")


def test_a_scale_in_during_a_rollbacks_wait_keeps_the_replaced_servers(plat: RunningPlatform) -> None:
    """A rollback to a release that answers after 6 s waits (unlocked); meanwhile ``shop`` is scaled to 1.
    That scale's reconcile had nothing to wait for and removed the rollback's replaced servers at once,
    leaving one new server that did not answer yet. They now stay until the rollback's new ones serve."""
    p = plat
    target = p.platform.create_revision(APP, "3.0.7", env={"SAMPLE_APP_START_DELAY_MS": "6000"})
    p.platform.replace_wait_s = 20.0
    results: list[object] = []
    with RouterTraffic(p, APP) as traffic:
        traffic.phase = "rollback"
        roller = _rollback_waiting(p, target.id, results)
        p.platform.scale(APP, 1)
        scaled_mid_wait = roller.is_alive()
        roller.join(40)
        traffic.phase = "after"
        wait_until(lambda: traffic.answers("after") >= 20, 10, "answers after the rollback")
    codes = traffic.http_codes()
    assert scaled_mid_wait, "the rollback ended before the scale: nothing was tested"
    assert all(set(c) <= {200} for c in codes.values()), f"{codes}"
    assert len(results) == 1 and not isinstance(results[0], BaseException), results
    servers = [s for s in p.platform.router.servers() if s.backend == APP]
    assert len(servers) == 1, servers
    p.platform.scale(APP, 2)
    wait_until(_all_running(p, APP, 2), 30, "two instances again")


def _call(fn: Callable[[], object]) -> object:
    try:
        return fn()
    except LocalPlatformError as exc:  # a DeploymentError expected; any other is reported by the test
        return exc


_RECONCILE = """
import sys
from pathlib import Path
from prometheus_client import CollectorRegistry
from platforms.local import LocalPlatform
LocalPlatform(Path(sys.argv[1]), registry=CollectorRegistry()).scale(sys.argv[2], int(sys.argv[3]))
"""


def test_a_drained_server_stays_out_while_another_process_reconciles(
    plat: RunningPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(c) While a restart has ``shop``'s instance drained (held in its stop here), another process scales
    ``cart``: its reconcile re-enabled the drained server (the in-process mark is not seen there), which then
    got requests while its process stopped. Now the mark is in state.json: the server stays in maintenance."""
    p = plat
    target = p.platform.instances(APP)[0]
    server = f"{APP}-{target.index}"
    in_stop = threading.Event()
    release = threading.Event()
    real_stop = p.platform.supervisor.stop

    def held_stop(name: str) -> None:
        in_stop.set()
        release.wait(30)
        real_stop(name)

    monkeypatch.setattr(p.platform.supervisor, "stop", held_stop)
    restarter = threading.Thread(target=lambda: p.platform.restart_instance(APP, target.index), daemon=True)
    restarter.start()
    try:
        assert in_stop.wait(10)
        other = subprocess.run(
            [sys.executable, "-c", _RECONCILE, str(p.root), OTHER, "2"],
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert other.returncode == 0, other.stderr
        status = next(s.status for s in p.platform.router.servers() if (s.backend, s.server) == (APP, server))
    finally:
        release.set()
        restarter.join(30)
    assert status.startswith("MAINT"), f"{server} is {status} after another process's reconcile"
    wait_until(_all_running(p, APP, 2), 30, "shop's instances RUNNING after the restart")
    spec = p.platform.state().app(APP)
    assert spec is not None and not spec.restarting  # the mark is gone once the restart ended
    p.platform.scale(OTHER, 1)
