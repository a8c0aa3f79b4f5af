"""The Alertmanager v2 API against real clients: recorded Alertmanager 0.25 payloads, real Prometheus 2.42
sending alerts, the real ``amtool`` managing silences, and a real Alertmanager 0.25 for the GET shapes."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alerting._am_live import Sink, paramedic_am, webhook_sink
from tests.conftest import FIXTURES
from tests.support.servers import free_port, require_binary, running, wait_until

RECORDED = FIXTURES / "alertmanager" / "recorded_v0.25.0"
pytestmark = pytest.mark.integration


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDED / name).read_text())
    return data


def am_config(sink_port: int, group_wait: str = "1s") -> str:
    text = (RECORDED / "alertmanager.yml").read_text().replace("19876", str(sink_port))
    # Alertmanager's groupKeys exactly: without Paramedic's tenant grouping (org joins space in group_by)
    text += "\ntenancy:\n  group_by_tenant: false\n"
    return text.replace("group_wait: 1s", f"group_wait: {group_wait}")


def postable(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"labels": a["labels"], "annotations": a["annotations"], "generatorURL": a["generatorURL"]}
        for a in payload["alerts"]
    ]


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    with webhook_sink() as s:
        yield s


@pytest.fixture(scope="module")
def am(sink: Sink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with paramedic_am(am_config(sink.port), tmp_path_factory.mktemp("am")) as url:
        yield url


def _strip_times(p: dict[str, Any]) -> dict[str, Any]:
    p = dict(p)
    p["alerts"] = [{k: v for k, v in a.items() if k not in ("startsAt", "endsAt")} for a in p["alerts"]]
    return p


def _sent(sink: Sink, recording: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The notifications of ``recording``'s group (its ``groupKey``) with its ``status``: the module's other
    tests post their own alerts to the same Alertmanager and sink, before or after this one runs."""
    return [
        (path, body)
        for path, body in sink.bodies
        if body["groupKey"] == recording["groupKey"] and body["status"] == recording["status"]
    ]


def test_webhook_payloads_match_recorded_alertmanager(am: str, sink: Sink) -> None:
    crashed, truncated = recorded("00_remediate.json"), recorded("01_truncated.json")
    gorouter = [
        {
            "labels": {**truncated["alerts"][0]["labels"], "index": str(i)},
            "annotations": truncated["alerts"][0]["annotations"],
        }
        for i in range(3)
    ]
    r = httpx.post(f"{am}/api/v2/alerts", json=postable(crashed) + gorouter)
    assert r.status_code == 200, r.text
    wait_until(lambda: bool(_sent(sink, crashed) and _sent(sink, truncated)), 15, "two webhook notifications")
    for recording, receiver_path in ((crashed, "/remediate"), (truncated, "/truncated")):
        path, body = _sent(sink, recording)[0]
        assert path == receiver_path and _strip_times(body) == _strip_times(recording)
    # resolve the crash alerts: the resolved notification matches the recording too
    resolved = recorded("02_remediate.json")
    ends = [{**a, "endsAt": resolved["alerts"][0]["endsAt"]} for a in postable(crashed)]
    httpx.post(f"{am}/api/v2/alerts", json=ends).raise_for_status()
    wait_until(lambda: bool(_sent(sink, resolved)), 15, "resolved notification")
    ((path, res),) = _sent(sink, resolved)
    assert path == "/remediate" and _strip_times(res) == _strip_times(resolved)


def test_get_alerts_groups_receivers_status(am: str) -> None:
    httpx.post(
        f"{am}/api/v2/alerts", json=[{"labels": {"alertname": "ShapeCheck", "space": "s"}}]
    ).raise_for_status()
    alerts = httpx.get(f"{am}/api/v2/alerts", params={"filter": 'alertname="ShapeCheck"'}).json()
    (a,) = alerts
    assert set(a) == {
        "annotations",
        "endsAt",
        "fingerprint",
        "receivers",
        "startsAt",
        "status",
        "updatedAt",
        "labels",
    }
    assert a["receivers"] == [{"name": "remediation-webhook"}]
    assert a["status"] == {"inhibitedBy": [], "silencedBy": [], "state": "active"}
    groups = httpx.get(f"{am}/api/v2/alerts/groups", params={"filter": 'alertname="ShapeCheck"'}).json()
    assert [(g["labels"], g["receiver"]) for g in groups] == [
        ({"alertname": "ShapeCheck", "space": "s"}, {"name": "remediation-webhook"})
    ]
    assert httpx.get(f"{am}/api/v2/receivers").json() == [
        {"name": "remediation-webhook"},
        {"name": "truncating-webhook"},
    ]
    status = httpx.get(f"{am}/api/v2/status").json()
    assert status["cluster"]["status"] == "disabled" and "route:" in status["config"]["original"]
    assert httpx.post(f"{am}/api/v2/alerts", json=[{"labels": {}}]).status_code == 400


def amtool(url: str, *args: str) -> str:
    out = subprocess.run(
        [require_binary("amtool"), f"--alertmanager.url={url}", *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=20,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_amtool_silences_and_alert_query(am: str) -> None:
    httpx.post(
        f"{am}/api/v2/alerts", json=[{"labels": {"alertname": "AmtoolCheck", "space": "x"}}]
    ).raise_for_status()
    sid = amtool(
        am,
        "silence",
        "add",
        "alertname=AmtoolCheck",
        "--comment=maintenance",
        "--author=ops",
        "--duration=1h",
    ).strip()
    assert len(sid) == 36
    assert sid in amtool(am, "silence", "query", "-q")
    assert "maintenance" in amtool(am, "silence", "query", "alertname=AmtoolCheck")
    got = httpx.get(f"{am}/api/v2/alerts", params={"filter": "alertname=AmtoolCheck"}).json()
    assert got[0]["status"]["silencedBy"] == [sid] and got[0]["status"]["state"] == "suppressed"
    assert "AmtoolCheck" not in amtool(am, "alert", "query", "alertname=AmtoolCheck")  # hides silenced
    assert "AmtoolCheck" in amtool(am, "alert", "query", "--silenced", "alertname=AmtoolCheck")
    amtool(am, "silence", "expire", sid)
    assert sid not in amtool(am, "silence", "query", "-q")
    assert httpx.get(f"{am}/api/v2/silence/{sid}").json()["status"]["state"] == "expired"
    assert "AmtoolCheck" in amtool(am, "alert", "query", "alertname=AmtoolCheck")


def test_prometheus_sends_alerts_to_paramedic(am: str, tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(
        "groups:\n- name: g\n  interval: 1s\n  rules:\n  - alert: AlwaysFiring\n    expr: vector(1)\n"
        "    labels: {severity: critical, space: demo}\n    annotations: {summary: 'always {{ $value }}'}\n"
    )
    port = am.rsplit(":", 1)[1]
    (tmp_path / "prometheus.yml").write_text(
        "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n"
        f"  - api_version: v2\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    prom_port = free_port()
    argv = [
        require_binary("prometheus"),
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
        "--rules.alert.resend-delay=1s",  # the first send can precede alertmanager discovery (then dropped)
    ]
    with running("prometheus", argv, tmp_path / "prometheus.log", f"http://127.0.0.1:{prom_port}/-/ready"):

        def arrived() -> bool:
            got = httpx.get(f"{am}/api/v2/alerts", params={"filter": "alertname=AlwaysFiring"}).json()
            return bool(got)

        wait_until(arrived, 30, "Prometheus to POST AlwaysFiring")
    (a,) = httpx.get(f"{am}/api/v2/alerts", params={"filter": "alertname=AlwaysFiring"}).json()
    assert a["labels"] == {"alertname": "AlwaysFiring", "severity": "critical", "space": "demo"}
    assert a["annotations"] == {"summary": "always 1"}
    assert f":{prom_port}/graph?g0.expr=vector%281%29" in a["generatorURL"]
