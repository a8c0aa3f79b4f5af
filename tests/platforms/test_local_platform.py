"""The local platform for real: HAProxy routes by Host, supervisord restarts crashes, scaling is live."""

from __future__ import annotations

import xmlrpc.client
from pathlib import Path

import httpx
import pytest

from platforms.base import Platform, PlatformError
from platforms.local import (
    InstanceInfo,
    LocalPlatform,
    RouterError,
    StateError,
    SupervisorError,
    SupervisorUnavailableError,
    UnknownAppError,
)
from platforms.local.fault_client import inject_fault
from platforms.local.processes import pid_start_time
from tests.platforms.conftest import APPS, RunningPlatform
from tests.support.servers import wait_until

pytestmark = pytest.mark.integration


def _seen_instances(p: RunningPlatform, app: str, requests: int) -> set[str]:
    seen = set()
    for _ in range(requests):
        resp = p.via_router(app)
        assert resp.status_code == 200, resp.text
        seen.add(resp.headers["X-App-Instance"])
    return seen


def _metrics_answer(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _instance(p: RunningPlatform, app: str, index: int) -> InstanceInfo:
    return next(i for i in p.platform.instances(app) if i.index == index)


def _all_up(p: RunningPlatform, app: str) -> bool:
    return all(i.router_status == "UP" and i.process_state == "RUNNING" for i in p.platform.instances(app))


def test_router_routes_by_host_to_every_instance(local_platform: RunningPlatform) -> None:
    for app, count in APPS.items():
        expected = {f"{app}/{i}" for i in range(count)}
        # roundrobin over healthy servers: 2 rounds reach each instance
        assert _seen_instances(local_platform, app, 2 * count) == expected
    unknown = local_platform.via_router("nope")
    assert unknown.status_code == 404
    assert "Requested route ('nope.local') does not exist" in unknown.text


def test_router_exporter_counts_responses_per_backend_and_server(local_platform: RunningPlatform) -> None:
    def count(name: str, **want: str) -> float:
        samples = local_platform.router_samples(name)
        return sum(v for labels, v in samples if all(labels.get(k) == w for k, w in want.items()))

    before = count("haproxy_backend_http_responses_total", proxy="catalog", code="2xx")
    for _ in range(6):
        assert local_platform.via_router("catalog", "/api/items").status_code == 200
    assert count("haproxy_backend_http_responses_total", proxy="catalog", code="2xx") >= before + 6
    assert count("haproxy_server_http_responses_total", proxy="catalog", server="catalog-0", code="2xx") >= 3
    assert count("haproxy_server_http_responses_total", proxy="catalog", server="catalog-1", code="2xx") >= 3


def test_discover_lists_router_node_and_every_instance(local_platform: RunningPlatform) -> None:
    platform: Platform = local_platform.platform
    assert isinstance(platform, Platform)
    targets = platform.discover()
    jobs = [t.labels["job"] for t in targets]
    assert jobs.count("router") == 1 and jobs.count("node") == 1
    apps = {(t.labels["app"], t.labels["app_instance"]) for t in targets if t.labels["job"] == "app"}
    assert apps == {(app, str(i)) for app, n in APPS.items() for i in range(n)}
    for target in targets:
        assert target.url.startswith("http://127.0.0.1:") and target.url.endswith("/metrics")
        if target.labels["job"] == "app":
            assert target.labels["__meta_local_process_state"] == "RUNNING"
            assert int(target.labels["__meta_local_pid"]) > 0
    # every discovered target really serves metrics
    bodies = {t.labels["job"]: httpx.get(t.url, timeout=5).text for t in targets}
    assert "haproxy_backend_http_responses_total" in bodies["router"]
    assert "node_cpu_seconds_total" in bodies["node"]
    assert "http_requests_total" in bodies["app"] and "app_info" in bodies["app"]


def test_scale_up_adds_target_and_route_then_scale_down_removes_them(local_platform: RunningPlatform) -> None:
    p = local_platform
    infos = p.platform.scale("checkout", 4)
    assert [i.index for i in infos] == [0, 1, 2, 3]
    assert ("checkout", "3") in {
        (t.labels.get("app"), t.labels.get("app_instance")) for t in p.platform.discover()
    }
    wait_until(lambda: _all_up(p, "checkout"), 20, "checkout-3 RUNNING and UP in HAProxy")
    assert _seen_instances(p, "checkout", 8) == {f"checkout/{i}" for i in range(4)}
    assert "server checkout-3 " in (p.root / "haproxy.cfg").read_text()  # survives a router restart

    new_pid = _instance(p, "checkout", 3).pid
    assert new_pid is not None
    infos = p.platform.scale("checkout", 3)
    assert [i.index for i in infos] == [0, 1, 2]
    assert ("checkout", "3") not in {
        (t.labels.get("app"), t.labels.get("app_instance")) for t in p.platform.discover()
    }
    assert "checkout-3" not in {s.server for s in p.platform.router.servers()}
    assert "checkout-3" not in {str(x["name"]) for x in p.platform.supervisor.processes()}
    assert not (p.root / "programs" / "checkout-3.conf").exists()
    wait_until(lambda: pid_start_time(new_pid) is None, 10, "checkout-3's process to exit")
    assert _seen_instances(p, "checkout", 6) == {f"checkout/{i}" for i in range(3)}


def test_router_restart_reapplies_scaled_state(local_platform: RunningPlatform) -> None:
    p = local_platform
    p.platform.scale("catalog", 3)
    try:
        p.runner.start_router()  # a fresh HAProxy knows only what its regenerated config says
        wait_until(lambda: _all_up(p, "catalog"), 20, "catalog's 3 instances UP after the router restart")
        assert _seen_instances(p, "catalog", 6) == {"catalog/0", "catalog/1", "catalog/2"}
    finally:
        p.platform.scale("catalog", 2)


def test_crashed_instance_is_restarted_by_supervisord(local_platform: RunningPlatform) -> None:
    p = local_platform
    before = _instance(p, "checkout", 0)
    assert before.pid is not None
    inject_fault(p.platform.paths, "checkout", "crash", 0)

    def restarted() -> bool:
        now = _instance(p, "checkout", 0)
        return now.pid not in (None, before.pid) and now.process_state == "RUNNING"

    wait_until(restarted, 20, "supervisord to restart checkout-0 with a new PID")
    assert pid_start_time(before.pid) is None
    wait_until(lambda: _metrics_answer(f"{before.url}/metrics"), 10, "restarted checkout-0 to serve /metrics")


def test_hung_instance_stops_answering_while_alive_until_restarted(local_platform: RunningPlatform) -> None:
    p = local_platform
    before = _instance(p, "catalog", 1)
    assert before.pid is not None
    inject_fault(p.platform.paths, "catalog", "hang", 1)
    wait_until(lambda: not _metrics_answer(f"{before.url}/metrics"), 10, "hung catalog-1 to stop answering")
    wait_until(
        lambda: _instance(p, "catalog", 1).router_status == "DOWN", 15, "HAProxy to mark catalog-1 DOWN"
    )
    hung = _instance(p, "catalog", 1)
    assert (
        hung.pid == before.pid and hung.process_state == "RUNNING"
    )  # alive: supervisord does not restart it
    assert pid_start_time(before.pid) is not None
    assert _seen_instances(p, "catalog", 4) == {"catalog/0"}  # the router routes around it

    after = p.platform.restart_instance("catalog", 1)
    assert after.pid != before.pid and after.process_state == "RUNNING"
    assert _metrics_answer(f"{before.url}/metrics")
    wait_until(lambda: _all_up(p, "catalog"), 15, "catalog-1 UP again")


def test_errors_fault_shows_as_5xx_in_router_metrics(local_platform: RunningPlatform) -> None:
    p = local_platform

    def five_xx() -> float:
        return sum(
            v
            for labels, v in p.router_samples("haproxy_backend_http_responses_total")
            if labels.get("proxy") == "catalog" and labels.get("code") == "5xx"
        )

    before = five_xx()
    inject_fault(p.platform.paths, "catalog", "errors", None, rate=1.0, for_s=60)
    try:
        codes = [p.via_router("catalog", "/api/items").status_code for _ in range(6)]
        assert codes == [500] * 6
        assert five_xx() >= before + 6
        by_server = {
            labels["server"]: v
            for labels, v in p.router_samples("haproxy_server_http_responses_total")
            if labels.get("proxy") == "catalog" and labels.get("code") == "5xx"
        }
        assert by_server["catalog-0"] >= 3 and by_server["catalog-1"] >= 3
    finally:
        for inst in p.platform.instances("catalog"):
            httpx.delete(f"{inst.url}/_fault", timeout=5)
    assert p.via_router("catalog", "/api/items").status_code == 200


def test_restart_app_is_rolling_and_gives_every_instance_a_new_pid(local_platform: RunningPlatform) -> None:
    p = local_platform
    before = {i.index: i.pid for i in p.platform.instances("catalog")}
    after = p.platform.restart_app("catalog")
    assert all(i.process_state == "RUNNING" and i.pid not in (None, before[i.index]) for i in after)


def test_errors_are_platform_errors_naming_component_and_call(local_platform: RunningPlatform) -> None:
    p = local_platform
    with pytest.raises(UnknownAppError, match=r"no app named 'nope' \(valid: catalog, checkout\)"):
        p.platform.scale("nope", 1)
    with pytest.raises(UnknownAppError, match=r"checkout has no instance 7 \(valid: 0, 1, 2\)"):
        p.platform.restart_instance("checkout", 7)
    with pytest.raises(StateError, match="instances must be"):
        p.platform.scale("checkout", 1000)
    with pytest.raises(SupervisorError) as sup:
        p.platform.supervisor.call("startProcess", "no-such-program")
    assert sup.value.fault_code == 10 and isinstance(sup.value.__cause__, xmlrpc.client.Fault)
    assert str(sup.value).startswith("supervisord: supervisor.startProcess: BAD_NAME")
    with pytest.raises(RouterError, match=r"^haproxy: disable server checkout/nope: No such server"):
        p.platform.router.del_server("checkout", "nope")
    assert isinstance(sup.value, PlatformError)


def test_unreachable_components_raise_translated_errors(
    local_platform: RunningPlatform, tmp_path: Path
) -> None:
    with pytest.raises(StateError, match="does not exist"):
        LocalPlatform(tmp_path / "nothing", registry=local_platform.registry).discover()
    # a copy of the state whose sockets nobody listens on
    (tmp_path / "state.json").write_text((local_platform.root / "state.json").read_text())
    dead = LocalPlatform(tmp_path, registry=local_platform.registry)
    with pytest.raises(SupervisorUnavailableError) as exc:
        dead.discover()
    assert isinstance(exc.value.__cause__, OSError)
    with pytest.raises(RouterError, match="stats socket"):
        dead.router.servers()


def test_calls_are_counted_by_component_and_result(local_platform: RunningPlatform) -> None:
    local_platform.platform.discover()
    reg = local_platform.registry

    def value(component: str, result: str) -> float:
        return sum(
            s.value
            for fam in reg.collect()
            for s in fam.samples
            if s.name == "paramedic_platform_calls_total"
            and s.labels["component"] == component
            and s.labels["outcome"] == result
        )

    assert value("supervisord", "ok") > 0 and value("haproxy", "ok") > 0
    assert (
        reg.get_sample_value("paramedic_platform_discovered_targets", {"platform": "local", "job": "app"})
        == 5
    )
