"""``paramedic demo`` end to end (platform, load, serve), ``demo fault``, no orphans after SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from platforms.local.processes import pid_start_time
from tests.support.demo import Demo, descendants, processes_mentioning, running_demo
from tests.support.demo import paramedic_cli as _cli
from tests.support.servers import free_port, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data_dir = tmp_path_factory.mktemp("demo")
    # a stale demo.json from a demo that died (PID above pid_max: never alive) must be cleaned up
    (data_dir / "demo.json").write_text(json.dumps({"demo": {"name": "demo", "pid": 2**22 + 1, "argv": []}}))
    with running_demo(data_dir, scrape_interval_s=1) as running:
        yield running


def test_demo_cleans_stale_record_and_paramedic_sees_every_target(demo: Demo) -> None:
    assert "removed stale" in demo.proc.log_tail(200)
    record = demo.record()
    names = {p["name"] for p in record["processes"]}
    assert {"rsyslogd", "supervisord", "haproxy", "node-exporter", "loadgen", "notification-sinks",
            "paramedic"} <= names  # fmt: skip
    cfg = (demo.data_dir / "paramedic.yaml").read_text()
    assert f"port: {record['relp_port']}" in cfg and f"port: {record['syslog_port']}" in cfg
    # alerting: the retimed local pack, mail to the SMTP sink, webhooks to the HTTP sink
    assert f"port: {record['smtp_port']}" in cfg and record["webhook_url"] in cfg
    assert (demo.data_dir / "rules" / "local-demo.yaml").is_file()
    assert httpx.get(f"{demo.api}/api/v2/status", timeout=5).status_code == 200

    def up_jobs() -> set[tuple[str, str]]:
        body = httpx.get(f"{demo.api}/api/v1/query", params={"query": "up"}, timeout=5).json()
        return {(r["metric"].get("job", ""), r["metric"].get("app", "")) for r in body["data"]["result"]}

    want = {("router", ""), ("node", ""), ("app", "checkout"), ("app", "catalog")}
    wait_until(lambda: want <= up_jobs(), 45, "up for router, node and both apps")


def test_demo_refuses_a_busy_log_port_naming_it(demo: Demo, tmp_path: Path) -> None:
    busy = demo.record()["relp_port"]  # the running demo's Paramedic listens there
    out = _cli("demo", "--data-dir", str(tmp_path), "--http-port", str(free_port()), "--relp-port", str(busy),
               "--syslog-port", str(free_port()))  # fmt: skip
    assert out.returncode == 1
    assert f"TCP port {busy} is in use on 127.0.0.1: pass --relp-port with a free port" in out.stderr


def test_second_demo_on_same_data_dir_is_refused(demo: Demo) -> None:
    out = _cli("demo", "--data-dir", str(demo.data_dir), "--http-port", str(free_port()))
    assert out.returncode == 1
    assert f"a demo is already running for {demo.data_dir}" in out.stderr


def test_demo_fault_injects_into_the_named_instance(demo: Demo) -> None:
    out = _cli("demo", "fault", "--data-dir", str(demo.data_dir), "--app", "checkout", "--kind", "latency",
               "--instance", "1", "--for-s", "30")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "injected latency into checkout instance 1" in out.stdout
    port = demo.record()["apps"]["checkout"]["1"]
    faults = httpx.get(f"http://127.0.0.1:{port}/_fault", timeout=5).json()
    assert [f["kind"] for f in faults] == ["latency"]
    httpx.delete(f"http://127.0.0.1:{port}/_fault", timeout=5)


def test_demo_fault_names_valid_apps_and_instances(demo: Demo) -> None:
    bad_app = _cli("demo", "fault", "--data-dir", str(demo.data_dir), "--app", "shop", "--kind", "crash")
    assert bad_app.returncode == 1
    assert "no app named 'shop' (valid: catalog, checkout)" in bad_app.stderr
    bad_index = _cli("demo", "fault", "--data-dir", str(demo.data_dir), "--app", "catalog", "--kind", "hang",
                     "--instance", "5")  # fmt: skip
    assert "catalog has no instance 5 (valid: 0, 1)" in bad_index.stderr
    bad_kind = _cli("demo", "fault", "--data-dir", str(demo.data_dir), "--app", "catalog", "--kind", "melt")
    assert bad_kind.returncode == 2 and "errors, latency, crash, leak, hang" in bad_kind.stderr


def _query(demo: Demo, expr: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{demo.api}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_router_gives_each_apps_request_rate(demo: Demo) -> None:
    # The README's query: per-app request rate from the router's per-backend series (app label by relabeling).
    expr = "sum by (app) (rate(haproxy_backend_http_responses_total[1m]))"

    def rates() -> dict[str, float]:
        return {r["metric"].get("app", ""): float(r["value"][1]) for r in _query(demo, expr)}

    wait_until(lambda: all(rates().get(app, 0.0) > 1.0 for app in ("checkout", "catalog")), 45,
               "a request rate above 1/s for both apps")  # fmt: skip
    # every backend is an app, plus the router's own catch-all for unknown hosts (HTTP 404, like gorouter)
    assert set(rates()) == {"checkout", "catalog", "no_route"}


def _log_hits(demo: Demo, q: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{demo.api}/api/v1/logs/search", params={"q": q, "limit": 50}, timeout=5).json()
    assert body["status"] == "success", body
    hits: list[dict[str, Any]] = body["data"]["hits"]
    return hits


def test_logs_from_rsyslog_find_router_and_app_errors(demo: Demo) -> None:
    # the README's example: after an errors fault, router lines (HAProxy via rsyslog/RELP) with status 500
    out = _cli("demo", "fault", "--data-dir", str(demo.data_dir), "--app", "checkout", "--kind", "errors",
               "--rate", "1", "--for-s", "15")  # fmt: skip
    assert out.returncode == 0, out.stderr

    def router_500s() -> list[dict[str, Any]]:
        return [h for h in _log_hits(demo, "status:500") if h["labels"].get("source") == "RTR"]

    wait_until(lambda: bool(router_500s()), 45, "router lines with status:500 in the log search")
    hit = router_500s()[0]
    assert hit["labels"]["app"] == "checkout" and hit["fields"]["status"] == 500
    assert hit["fields"]["appname"] == "haproxy"
    # the instances' own access lines (app-name = app, proc-id = index, msg-id APP), and the fault event
    q = "app:checkout AND source:APP AND status:500"  # logfmt pairs of app lines are fields
    wait_until(lambda: bool(_log_hits(demo, q)), 30, "checkout's own 500 access lines")
    app_hit = _log_hits(demo, q)[0]
    assert app_hit["labels"]["instance"] in {"0", "1"} and app_hit["fields"]["msgid"] == "APP"
    assert app_hit["fields"]["severity"] == 4  # a WARNING line of the app: user.warning
    assert _log_hits(demo, 'app:checkout AND "fault injected"'), "the fault event line"


def test_hang_drops_up_to_zero_within_two_scrape_intervals(demo: Demo) -> None:
    interval_s = 1.0  # --scrape-interval-s of the fixture
    selector = 'up{job="app", app="catalog", app_instance="1"}'
    wait_until(lambda: [r["value"][1] for r in _query(demo, selector)] == ["1"], 45, "catalog/1 up")
    out = _cli("demo", "fault", "--data-dir", str(demo.data_dir), "--app", "catalog", "--kind", "hang",
               "--instance", "1", "--for-s", "20")  # fmt: skip
    assert out.returncode == 0, out.stderr
    injected_at = time.time()

    def first_zero() -> float | None:
        # raw samples of the last 30 s, with the scrape timestamps the collector stored
        result = _query(demo, f"{selector}[30s]")
        zeros = [
            float(t) for r in result for t, v in r["values"] if v == "0" and float(t) >= injected_at - 0.1
        ]
        return min(zeros) if zeros else None

    wait_until(lambda: first_zero() is not None, 30, "up == 0 for the hung instance")
    stamp = first_zero()
    assert stamp is not None
    assert stamp - injected_at <= 2 * interval_s, f"up dropped {stamp - injected_at:.2f}s after the hang"
    # the other instance of the app keeps serving
    assert [r["value"][1] for r in _query(demo, 'up{job="app", app="catalog", app_instance="0"}')] == ["1"]


def test_the_capacity_outlook_reads_the_local_cell_from_the_node_exporter(demo: Demo) -> None:
    """Issue 15 on the local platform: the cell is the host the node exporter describes (its memory as
    /proc/meminfo gives it), the chunk the largest resident set of a sample-app instance, no slot limit."""
    mem_total_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    answer: dict[str, Any] = {}

    def ready() -> bool:
        answer.clear()
        got = httpx.get(f"{demo.api}/api/v1/capacity", headers=demo.auth_headers, timeout=30)
        answer.update(got.json() if got.status_code == 200 else {})
        return bool(answer.get("cells")) and answer.get("chunk_mib", 0) > 0

    # the server keeps an outlook a minute: one computed before the first scrapes may be served until then
    wait_until(ready, 90, "the local cell and the largest app instance in /api/v1/capacity", interval_s=2)
    assert (answer["source"], answer["chunk_from"]) == (
        "local",
        "largest app instance resident memory (measured)",
    )
    [cell] = answer["cells"]
    assert cell["memory_total_mib"] == pytest.approx(mem_total_kib / 1024)
    assert 0 < cell["memory_remaining_mib"] < cell["memory_total_mib"]
    assert 5 < answer["chunk_mib"] < 1024  # a Python sample app's resident set
    assert answer["memory"]["free_chunks"] == int(cell["memory_remaining_mib"] // answer["chunk_mib"])
    assert answer["containers"]["free"] is None and answer["n_plus_one"] is None  # one host, no slot limit


def test_sigterm_stops_every_process_of_the_demo(demo: Demo) -> None:
    # runs last in this module: it stops the shared demo
    tree = descendants(demo.proc.pid)
    assert len(tree) >= 7 + 4  # 7 parts (rsyslogd, notification sinks) + 4 instances (supervisord's)
    sinks = [pid for pid, _ in tree if "smtp_sink" in Path(f"/proc/{pid}/cmdline").read_text()]
    assert len(sinks) == 1
    rsyslogd = [pid for pid, _ in tree if "rsyslogd" in Path(f"/proc/{pid}/cmdline").read_text()]
    assert len(rsyslogd) == 1
    os.kill(demo.proc.pid, signal.SIGTERM)
    assert demo.proc.popen.wait(45) == 0, demo.proc.log_tail()
    survivors = [pid for pid, start in tree if pid_start_time(pid) == start]
    assert survivors == [], f"orphans left: {survivors}"
    assert processes_mentioning(str(demo.data_dir)) == []
    assert not (demo.data_dir / "demo.json").exists()
    out = _cli("demo", "fault", "--data-dir", str(demo.data_dir), "--app", "checkout", "--kind", "crash")
    assert out.returncode == 1 and "no demo is running" in out.stderr
