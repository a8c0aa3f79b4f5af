"""The local platform as ``Remediable``: CC-style instance states, revisions, blue-green deployments through
HAProxy weights, rollback, and desired state that survives an HAProxy restart.

The live tests share one platform (``small_platform``: app ``shop``, 2 instances) and run in file order; each
ends with no deployment in progress. Revisions: v1 1.0.0 (start), v2 2.0.0, v3 a bad release (errors).
"""

from __future__ import annotations

import collections
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from prometheus_client import CollectorRegistry

from platforms.base import Deployment, PlatformError, Remediable, Revision
from platforms.local import (
    DeploymentError,
    LocalPlatform,
    PlatformState,
    StateDir,
    StateError,
    UnknownAppError,
    _deploy,
)
from platforms.local._files import write_platform_files
from platforms.local._metrics import platform_metrics
from platforms.local.adapter import cc_state
from platforms.local.fault_client import inject_fault
from platforms.local.haproxy_runtime import HAProxyRuntime, ServerStatus
from platforms.local.sample_app.faults import FaultRequestError, fault_from_env
from platforms.local.state import AppSpec
from tests.platforms._traffic import RouterTraffic
from tests.platforms.conftest import RunningPlatform
from tests.support.servers import require_binary, wait_until

APP = "shop"
REQUESTS = 200
TOLERANCE = 0.07  # HAProxy's weighted roundrobin is deterministic; the margin covers health-check timing


# -- helpers -------------------------------------------------------------------------------------------------


def _versions(p: RunningPlatform, requests: int = REQUESTS, path: str = "/") -> collections.Counter[str]:
    """How many of ``requests`` through the router each app version answered (every one must be 200)."""
    seen: collections.Counter[str] = collections.Counter()
    with httpx.Client(timeout=5) as client:
        for _ in range(requests):
            resp = client.get(f"{p.router}{path}", headers={"Host": f"{APP}.local", "Connection": "close"})
            assert resp.status_code == 200, resp.text
            seen[resp.headers["X-App-Version"]] += 1
    return seen


def _share(seen: collections.Counter[str], version: str) -> float:
    return seen[version] / sum(seen.values())


def _all_running(p: RunningPlatform, count: int) -> Callable[[], bool]:
    def check() -> bool:
        insts = p.platform.app_instances(APP)
        return len(insts) == count and all(i.state == "RUNNING" for i in insts)

    return check


def _paused(p: RunningPlatform, dep: Deployment) -> None:
    wait_until(lambda: p.platform.deployment(dep.id).state == "PAUSED", 20, f"{dep.id} to be PAUSED")


def _revision_ids(p: RunningPlatform) -> dict[str, str]:
    return {r.id: r.description for r in p.platform.revisions(APP)}


# -- live ----------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_platform_is_remediable_and_reports_instances(small_platform: RunningPlatform) -> None:
    p = small_platform
    remediable: Remediable = p.platform
    assert isinstance(remediable, Remediable)
    assert remediable.apps() == [APP]
    wait_until(_all_running(p, 2), 20, "both instances RUNNING (supervisord's startsecs)")
    insts = remediable.app_instances(APP)
    assert [(i.index, i.state, i.revision, i.weight) for i in insts] == [
        (0, "RUNNING", "v1", 1),
        (1, "RUNNING", "v1", 1),
    ]
    assert insts[0].details["router_status"] == "UP" and int(insts[0].details["pid"]) > 0
    assert remediable.revisions(APP) == [Revision("v1", 1, "sample app 1.0.0", current=True)]
    app_targets = [t for t in p.platform.discover() if t.labels["job"] == "app"]
    assert {(t.labels["app_instance"], t.labels["revision"]) for t in app_targets} == {
        ("0", "v1"),
        ("1", "v1"),
    }
    assert _versions(p, 10) == {"1.0.0": 10}


@pytest.mark.integration
def test_canary_splits_traffic_by_weight_and_cancel_goes_back(small_platform: RunningPlatform) -> None:
    p = small_platform
    v2 = p.platform.create_revision(APP, "2.0.0")
    assert v2 == Revision("v2", 2, "sample app 2.0.0", current=False)
    assert p.platform.create_revision(APP, "2.0.0") == v2  # a retry creates nothing

    dep = p.platform.start_deployment(APP, "v2", 25)
    assert (dep.app, dep.revision, dep.previous_revision, dep.weight_pct) == (APP, "v2", "v1", 25)
    assert dep.state in ("DEPLOYING", "PAUSED")
    _paused(p, dep)
    insts = p.platform.app_instances(APP)
    assert sorted((i.revision, i.weight) for i in insts) == [("v1", 75), ("v1", 75), ("v2", 25), ("v2", 25)]
    assert _share(_versions(p), "2.0.0") == pytest.approx(0.25, abs=TOLERANCE)

    assert (
        p.platform.start_deployment(APP, "v2", 75).id == dep.id
    )  # a retry with a new split, same deployment
    assert p.platform.set_deployment_weight(dep.id, 75).weight_pct == 75
    assert _share(_versions(p), "2.0.0") == pytest.approx(0.75, abs=TOLERANCE)

    canceled = p.platform.cancel_deployment(dep.id)
    assert (canceled.state, canceled.weight_pct) == ("CANCELED", 0)
    assert p.platform.cancel_deployment(dep.id) == canceled  # idempotent
    insts = p.platform.app_instances(APP)
    assert [(i.revision, i.weight) for i in insts] == [("v1", 1), ("v1", 1)]
    assert _versions(p, 20) == {"1.0.0": 20}
    assert [r.id for r in p.platform.revisions(APP) if r.current] == ["v1"]
    with pytest.raises(DeploymentError, match=r"^state: promote_deployment: shop-deploy-1 is CANCELED"):
        p.platform.promote_deployment(dep.id)


@pytest.mark.integration
def test_promote_makes_the_new_revision_current(small_platform: RunningPlatform) -> None:
    p = small_platform
    old_programs = {i.details["program"] for i in p.platform.app_instances(APP)}
    dep = p.platform.start_deployment(APP, "v2", 50)
    _paused(p, dep)
    promoted = p.platform.promote_deployment(dep.id)
    assert (promoted.state, promoted.weight_pct, promoted.revision) == ("DEPLOYED", 100, "v2")
    assert p.platform.promote_deployment(dep.id) == promoted  # idempotent
    assert p.platform.deployment(dep.id) == promoted
    insts = p.platform.app_instances(APP)
    assert [(i.revision, i.weight, i.state) for i in insts] == [("v2", 1, "RUNNING")] * 2
    assert not old_programs & {str(x["name"]) for x in p.platform.supervisor.processes()}
    assert not old_programs & {s.server for s in p.platform.router.servers()}
    assert _versions(p, 20) == {"2.0.0": 20}
    assert [r.id for r in p.platform.revisions(APP) if r.current] == ["v2"]


@pytest.mark.integration
def test_bad_revision_fails_through_the_router_and_rollback_restores(small_platform: RunningPlatform) -> None:
    p = small_platform
    bad = p.platform.create_revision(
        APP, "3.0.0", env={"SAMPLE_APP_FAULT": "errors", "SAMPLE_APP_FAULT_RATE": "1.0"}
    )
    assert bad.id == "v3" and "SAMPLE_APP_FAULT=errors" in bad.description
    dep = p.platform.start_deployment(APP, "v3", 50)
    _paused(p, dep)  # health checks pass: the fault hits business routes only, as a bad release would
    by_code: collections.Counter[tuple[int, str]] = collections.Counter()
    for _ in range(100):
        resp = p.via_router(APP, "/api/items")
        by_code[(resp.status_code, resp.headers["X-App-Version"])] += 1
    assert set(by_code) == {(200, "2.0.0"), (500, "3.0.0")}
    assert by_code[(500, "3.0.0")] == pytest.approx(50, abs=100 * TOLERANCE)
    five_xx = {
        labels["server"]: v
        for labels, v in p.router_samples("haproxy_server_http_responses_total")
        if labels.get("proxy") == APP and labels.get("code") == "5xx" and v > 0
    }
    v3_servers = {i.details["program"] for i in p.platform.app_instances(APP) if i.revision == "v3"}
    assert set(five_xx) == v3_servers  # HAProxy sees the errors on the new revision's servers only

    p.platform.promote_deployment(dep.id)  # the bad release goes all the way...
    wait_until(_all_running(p, 2), 20, "v3 instances alone, RUNNING")
    assert p.via_router(APP, "/api/items").status_code == 500

    back = p.platform.rollback(APP, "v2")  # ...and is rolled back
    # the old instances left the router only once the new ones served: no error, no wait
    assert _versions(p, 20, "/api/items") == {"2.0.0": 20}
    assert (back.state, back.revision, back.previous_revision, back.weight_pct) == (
        "DEPLOYED",
        "v2",
        "v3",
        100,
    )
    assert p.platform.rollback(APP, "v2") == back  # a retry applies nothing twice
    assert [r.id for r in p.platform.revisions(APP) if r.current] == ["v2"]
    wait_until(_all_running(p, 2), 20, "rolled-back v2 instances RUNNING")
    assert {i.revision for i in p.platform.app_instances(APP)} == {"v2"}
    assert _versions(p, 20, "/api/items") == {"2.0.0": 20}


@pytest.mark.integration
def test_router_restart_keeps_deployment_servers_and_weights(small_platform: RunningPlatform) -> None:
    p = small_platform
    dep = p.platform.start_deployment(APP, "v1", 30)
    try:
        _paused(p, dep)
        before = {(s.server, s.weight) for s in p.platform.router.servers() if s.backend == APP}
        assert sorted(w for _, w in before) == [30, 30, 70, 70]
        p.runner.start_router()  # a fresh HAProxy knows only what its regenerated config says
        wait_until(_all_running(p, 4), 20, "every shop server UP after the router restart")
        after = {(s.server, s.weight) for s in p.platform.router.servers() if s.backend == APP}
        assert after == before
        assert p.platform.deployment(dep.id).state == "PAUSED"
        assert _share(_versions(p), "1.0.0") == pytest.approx(0.30, abs=TOLERANCE)
    finally:
        p.platform.cancel_deployment(dep.id)
    assert _versions(p, 10) == {"2.0.0": 10}


@pytest.mark.integration
def test_hung_instance_is_down_until_restart_instance(small_platform: RunningPlatform) -> None:
    p = small_platform
    target = p.platform.app_instances(APP)[0]
    inject_fault(p.platform.paths, APP, "hang", target.index)

    def state() -> str:
        return next(i.state for i in p.platform.app_instances(APP) if i.index == target.index)

    wait_until(lambda: state() == "DOWN", 15, "the hung instance to be DOWN")
    hung = next(i for i in p.platform.app_instances(APP) if i.index == target.index)
    assert hung.details["process_state"] == "RUNNING" and hung.details["pid"] == target.details["pid"]
    p.platform.restart_instance(APP, target.index)
    wait_until(lambda: state() == "RUNNING", 15, "the restarted instance to be RUNNING")


@pytest.mark.integration
def test_errors_name_the_call_and_actions_are_counted(small_platform: RunningPlatform) -> None:
    p = small_platform
    with pytest.raises(
        UnknownAppError, match=r"start_deployment: shop has no revision 'v9' \(valid: v1, v2, v3\)"
    ):
        p.platform.start_deployment(APP, "v9", 10)
    with pytest.raises(StateError, match=r"start_deployment: weight_pct must be an integer 0..100"):
        p.platform.start_deployment(APP, "v1", 101)
    with pytest.raises(DeploymentError, match=r"start_deployment: v2 is already the current revision"):
        p.platform.start_deployment(APP, "v2", 10)
    with pytest.raises(UnknownAppError, match=r"^state: deployment: no deployment 'nope'"):
        p.platform.deployment("nope")
    with pytest.raises(UnknownAppError, match=r"rollback: no app named 'nope'"):
        p.platform.rollback("nope", "v1")
    with pytest.raises(StateError, match=r"create_revision: env name 'bad-name'"):
        p.platform.create_revision(APP, "4.0.0", env={"bad-name": "x"})
    dep = p.platform.start_deployment(APP, "v1", 10)
    try:
        with pytest.raises(DeploymentError, match=r"start_deployment: shop-deploy-\d+ \(v1\) is in progress"):
            p.platform.start_deployment(APP, "v3", 10)
        with pytest.raises(DeploymentError, match=r"^state: scale: shop-deploy-\d+ is in progress"):
            p.platform.scale(APP, 3)
    finally:
        p.platform.cancel_deployment(dep.id)
    with pytest.raises(DeploymentError, match=r"set_deployment_weight: shop-deploy-\d+ is CANCELED") as exc:
        p.platform.set_deployment_weight(dep.id, 50)
    assert isinstance(exc.value, PlatformError)

    def actions(action: str, result: str) -> float:
        labels = {"platform": "local", "action": action, "result": result}
        return p.registry.get_sample_value("paramedic_platform_actions_total", labels) or 0.0

    assert actions("start_deployment", "ok") >= 4 and actions("start_deployment", "error") >= 4
    assert actions("rollback", "ok") >= 2 and actions("scale", "error") >= 1


@pytest.mark.integration
def test_a_slow_starting_release_is_paused_only_once_it_answers(small_platform: RunningPlatform) -> None:
    """HAProxy counts a server it just added UP before its first health check, and supervisord a process
    RUNNING after one second: a release that opens its port later was reported PAUSED (so a rolling
    deployment promoted it, its old instances gone) while nothing listened, and the router answered 503."""
    p = small_platform
    serving = set(_versions(p, 10))
    slow = p.platform.create_revision(APP, "2.0.1", env={"SAMPLE_APP_START_DELAY_MS": "2500"})
    dep = p.platform.start_deployment(APP, slow.id, 50)
    try:
        wait_until(
            lambda: p.platform.deployment(dep.id).state == "PAUSED", 30, f"{dep.id} PAUSED", interval_s=0.05
        )
        new = [i for i in p.platform.instances(APP) if i.revision == slow.id]
        assert len(new) == 2
        for inst in new:  # PAUSED means every new instance answers, checked at once
            assert httpx.get(f"{inst.url}/healthz", timeout=5).status_code == 200, inst
    finally:
        p.platform.cancel_deployment(dep.id)
    assert set(_versions(p, 10)) == serving


@pytest.mark.integration
def test_a_rollback_to_a_slow_starting_release_keeps_serving(small_platform: RunningPlatform) -> None:
    """A rollback adds the new instances before the old ones leave, and the old leave only once the new have
    passed a health check; meanwhile a request the router sends to a new instance not yet listening is
    retried on another server. Traffic through the router all along: every answer 200."""
    p = small_platform
    slow = p.platform.create_revision(APP, "2.0.2", env={"SAMPLE_APP_START_DELAY_MS": "2500"})
    codes: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                resp = client.get(p.router, headers={"Host": f"{APP}.local", "Connection": "close"})
                codes.append(resp.status_code)

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    try:
        p.platform.rollback(APP, slow.id)
        wait_until(_all_running(p, 2), 30, "the slow release's two instances RUNNING")
    finally:
        stop.set()
        sender.join(10)
    assert codes and collections.Counter(codes) == {200: len(codes)}, collections.Counter(codes)
    assert set(_versions(p, 10)) == {"2.0.2"}


@pytest.mark.integration
def test_a_rollback_after_a_deployment_at_100_pct_keeps_serving(small_platform: RunningPlatform) -> None:
    """A deployment started at 100 % took the old instances' weight to 0 at once, while the new ones (UP
    before their first check) still opened their port: 503s with no server to retry on. A rollback right
    after it (to a slow-starting release) reused the canceled instances' indexes, so the canceled release
    kept serving under the rollback's name. Now new servers get traffic only after a passing check, the old
    ones keep their weight until then, and the rollback's instances are new. Every answer 200."""
    p = small_platform
    fast = p.platform.create_revision(APP, "2.1.0")
    slow = p.platform.create_revision(APP, "2.0.3", env={"SAMPLE_APP_START_DELAY_MS": "2500"})
    with RouterTraffic(p, APP) as traffic:
        traffic.phase = "deploy"
        dep = p.platform.start_deployment(APP, fast.id, 100)
        _paused(p, dep)
        traffic.phase = "rollback"
        p.platform.rollback(APP, slow.id)
        wait_until(_all_running(p, 2), 30, "the slow release's two instances RUNNING")
        traffic.phase = "after"
        wait_until(lambda: sum(traffic.codes["after"].values()) > 0, 10, "traffic after the rollback")
    codes = dict(traffic.codes)
    assert all(set(c) == {200} for c in codes.values()), codes
    assert set(_versions(p, 10)) == {"2.0.3"}
    assert {i.revision for i in p.platform.app_instances(APP)} == {slow.id}


@pytest.mark.integration
def test_a_deployment_set_to_100_pct_before_it_answers_keeps_serving(small_platform: RunningPlatform) -> None:
    """Setting a deployment's weight to 100 % while its slow instances still open their port took the old
    ones' weight to 0 at once (503s): the old keep theirs until the new ones have passed a check."""
    p = small_platform
    slow = p.platform.create_revision(APP, "2.0.4", env={"SAMPLE_APP_START_DELAY_MS": "2500"})
    with RouterTraffic(p, APP) as traffic:
        traffic.phase = "deploy"
        dep = p.platform.start_deployment(APP, slow.id, 10)
        p.platform.set_deployment_weight(dep.id, 100)
        _paused(p, dep)
        traffic.phase = "promote"
        p.platform.promote_deployment(dep.id)
        traffic.phase = "after"
        wait_until(lambda: sum(traffic.codes["after"].values()) > 0, 10, "traffic after the promotion")
    assert all(set(c) == {200} for c in traffic.codes.values()), dict(traffic.codes)
    assert set(_versions(p, 10)) == {"2.0.4"}


@pytest.mark.integration
def test_a_rolling_restart_under_traffic_answers_every_request_200(small_platform: RunningPlatform) -> None:
    """Stopping an instance still in the router cut its requests in flight (502, 1-2 a restart_app): it is
    drained first and comes back after a passing check, before the next instance stops."""
    p = small_platform
    with RouterTraffic(p, APP) as traffic:
        traffic.phase = "restart"
        for _ in range(3):
            p.platform.restart_app(APP)
        traffic.phase = "after"
        wait_until(lambda: sum(traffic.codes["after"].values()) > 0, 10, "traffic after the restarts")
    assert all(set(c) == {200} for c in traffic.codes.values()), dict(traffic.codes)
    assert _all_running(p, 2)()


# -- without processes ---------------------------------------------------------------------------------------


def _ports() -> Callable[[], int]:
    counter = iter(range(21000, 21100))
    return lambda: next(counter)


def _deploying_state() -> PlatformState:
    state = PlatformState.new({"web": 2}, _ports())
    web = state.app("web")
    assert web is not None
    web, _ = _deploy.create_revision(web, "2.0.0", {"SAMPLE_APP_FAULT": "latency", "X": "50%"})
    web, _ = _deploy.start(web, "v2", 20, _ports())
    return state.with_app(web)


def test_state_with_revisions_and_deployments_round_trips(tmp_path: Path) -> None:
    paths = StateDir(tmp_path)
    paths.create()
    state = _deploying_state()
    paths.save(state)
    assert paths.load() == state
    web = state.app("web")
    assert web is not None and [(i.index, i.revision) for i in web.instances] == [
        (0, "v1"),
        (1, "v1"),
        (2, "v2"),
        (3, "v2"),
    ]


def test_version_1_state_files_load_with_every_instance_on_v1() -> None:
    data = {
        "version": 1,
        "router_port": 1,
        "stats_port": 2,
        "node_exporter_port": 3,
        "apps": {"web": [{"index": 0, "port": 10}]},
    }
    web = PlatformState.from_json(data).app("web")
    assert web is not None
    assert (web.current, [r.id for r in web.revisions], web.instances[0].revision) == ("v1", ["v1"], "v1")


def test_generated_config_carries_weights_and_revision_env(tmp_path: Path) -> None:
    paths = StateDir(tmp_path)
    write_platform_files(paths, _deploying_state())
    cfg = paths.haproxy_cfg.read_text()
    lines = [line.split() for line in cfg.splitlines() if line.startswith("    server ")]
    servers = {words[1]: words[-1] for words in lines}
    assert servers == {"web-0": "80", "web-1": "80", "web-2": "20", "web-3": "20"}
    check = subprocess.run(
        [require_binary("haproxy"), "-c", "-f", str(paths.haproxy_cfg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    program = (paths.programs_dir / "web-2.conf").read_text()
    assert "--version 2.0.0" in program
    assert 'SAMPLE_APP_FAULT="latency"' in program and 'X="50%%"' in program  # % escaped for supervisord
    assert 'SAMPLE_APP_VERSION="1.0.0"' in (paths.programs_dir / "web-0.conf").read_text()


def test_deployment_transitions_are_idempotent() -> None:
    web = AppSpec("web", ())
    web = _deploy.rollback(web, "v1", _ports())[0]  # no instances: only the record
    state = _deploying_state().app("web")
    assert state is not None
    promoted, record = _deploy.promote(state, "web-deploy-1")
    assert _deploy.promote(promoted, "web-deploy-1") == (promoted, record)
    canceled, record = _deploy.cancel(state, "web-deploy-1")
    assert _deploy.cancel(canceled, "web-deploy-1") == (canceled, record)
    rolled, record = _deploy.rollback(promoted, "v1", _ports())
    assert _deploy.rollback(rolled, "v1", _ports()) == (rolled, record)
    assert [i.revision for i in rolled.instances] == ["v1", "v1"] and rolled.current == "v1"


def test_a_rollback_during_a_deployment_gives_its_instances_new_indexes() -> None:
    """The canceled deployment's servers and programs are still there when the rollback's are added: a
    reused index (same server and program name) kept the canceled release serving under the new name."""
    web = _deploying_state().app("web")
    assert web is not None  # instances 0, 1 (v1) and 2, 3 (v2, the deployment)
    rolled, _ = _deploy.rollback(web, "v1", _ports())
    assert [(i.index, i.revision) for i in rolled.instances] == [(4, "v1"), (5, "v1")]


class _RecordingRuntime(HAProxyRuntime):
    """Answers every runtime command as HAProxy does on success and records it."""

    def __init__(self) -> None:
        super().__init__(Path("/nonexistent.sock"), platform_metrics(CollectorRegistry()))
        self.sent: list[str] = []

    def command(self, cmd: str) -> str:
        self.sent.append(cmd)
        return "New server registered.\n" if cmd.startswith("add server") else "\n"


def test_a_checked_server_is_added_down_and_weighted_last() -> None:
    """HAProxy 2.6 makes an enabled checked server "UP 1/2" before its first check: it is enabled at weight 0,
    forced DOWN (only a passing check makes it UP), and only then given its weight."""
    runtime = _RecordingRuntime()
    runtime.add_server("shop", "shop-4", "127.0.0.1:9", "check inter 1s", weight=7)
    assert runtime.sent == [
        "add server shop/shop-4 127.0.0.1:9 check inter 1s",
        "enable health shop/shop-4",
        "set server shop/shop-4 weight 0",
        "enable server shop/shop-4",
        "set server shop/shop-4 health down",
        "set server shop/shop-4 weight 7",
    ]
    runtime.sent.clear()
    runtime.add_server("shop", "shop-5", "127.0.0.1:9", "", weight=2)  # no checks: nothing to wait for
    assert runtime.sent == [
        "add server shop/shop-5 127.0.0.1:9 ",
        "set server shop/shop-5 weight 2",
        "enable server shop/shop-5",
    ]


@pytest.mark.parametrize(
    ("process", "router", "expected"),
    [
        ("RUNNING", "UP", "RUNNING"),
        ("RUNNING", "UP 1/2", "RUNNING"),
        ("RUNNING", "DOWN", "DOWN"),
        ("RUNNING", "unknown", "DOWN"),
        ("STARTING", "DOWN", "STARTING"),
        ("BACKOFF", "DOWN", "CRASHED"),
        ("EXITED", "absent", "CRASHED"),
        ("FATAL", "DOWN", "CRASHED"),
        ("STOPPING", "MAINT", "STOPPING"),
        ("ABSENT", "absent", "DOWN"),
    ],
)
def test_cc_state_maps_process_and_router_state(process: str, router: str, expected: str) -> None:
    assert cc_state(process, router) == expected


def test_a_rollback_waits_for_new_servers_checked_not_only_added() -> None:
    """The old instances of a rollback leave the router once the new ones serve: a server HAProxy has just
    added is "UP 1/2" with no check (INI) and must not count, or the old ones leave before one listens."""
    views = [("UP 1/2", "INI"), ("UP 1/2", "* INI"), ("DOWN", "L4CON"), ("UP", "L7OK")]
    seen: list[str] = []

    def servers() -> list[ServerStatus]:
        status, check = views[min(len(seen), len(views) - 1)]
        seen.append(check)
        return [ServerStatus("shop", "shop-2", status, 1, "127.0.0.1:1", check)]

    fake = SimpleNamespace(
        replace_wait_s=30.0,
        supervisor=SimpleNamespace(processes=lambda: [{"name": "shop-2", "statename": "RUNNING"}]),
        router=SimpleNamespace(servers=servers),
    )
    fake._not_serving = lambda keys: LocalPlatform._not_serving(fake, keys)  # type: ignore[arg-type]
    assert LocalPlatform._wait_serving(fake, {("shop", "shop-2")}) == set()  # type: ignore[arg-type]
    assert seen == ["INI", "* INI", "L4CON", "L7OK"]


@pytest.mark.parametrize(
    ("router", "check", "expected"),
    [
        ("UP 1/2", "INI", "STARTING"),  # just added (HAProxy 2.6: UP before any check), maybe not listening
        ("UP 1/2", "* INI", "STARTING"),  # its first check under way
        ("UP", "L7OK", "RUNNING"),
        ("UP 1/2", "L7STS", "RUNNING"),  # one failed check of a server that answered before: still routed
        ("DOWN", "L4CON", "DOWN"),
        ("UP", "", "RUNNING"),  # a server without checks
    ],
)
def test_an_instance_the_router_has_not_checked_yet_is_starting(
    router: str, check: str, expected: str
) -> None:
    assert cc_state("RUNNING", router, check) == expected


def test_startup_fault_comes_from_the_environment() -> None:
    assert fault_from_env({}, 0.0) is None
    fault = fault_from_env({"SAMPLE_APP_FAULT": "errors", "SAMPLE_APP_FAULT_RATE": "0.25"}, 0.0)
    assert fault is not None and (fault.kind, fault.rate, fault.until) == ("errors", 0.25, None)
    with pytest.raises(FaultRequestError, match="SAMPLE_APP_FAULT must be one of"):
        fault_from_env({"SAMPLE_APP_FAULT": "crash"}, 0.0)
    with pytest.raises(FaultRequestError, match="SAMPLE_APP_FAULT_RATE must be a number"):
        fault_from_env({"SAMPLE_APP_FAULT": "errors", "SAMPLE_APP_FAULT_RATE": "lots"}, 0.0)


def test_local_platform_satisfies_the_protocol_statically() -> None:
    def accepts(platform: Remediable) -> str:
        return platform.name

    assert accepts(LocalPlatform(Path("/nonexistent"))) == "local"
