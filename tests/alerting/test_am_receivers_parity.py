"""Alertmanager's receivers byte for byte: a real Alertmanager 0.25 and Paramedic get the same alerts, with
the same receivers pointed at two identical loopback sinks; every request (method, path, body bytes, the
headers that matter) must be equal — Slack, PagerDuty v2, Opsgenie (create + update + close), Telegram, and
webhooks authenticated through ``http_config`` (basic auth and authorization from files read at send
time), and Slack and Telegram fields written as operators write them (Go templates over ``.Alerts``,
``.CommonLabels``, methods, functions, HTML escaping)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerting.base import Notifier
from alerting.config import notifier_config
from alerting.dispatch.config import GlobalConfig
from alerting.notify import build_notifier
from tests.alerting._am_live import paramedic_am
from tests.alerting._receiver_sink import RecordingSink, Request, recording_sink
from tests.conftest import FIXTURES
from tests.support.servers import free_port, require_binary, running, wait_until

pytestmark = pytest.mark.integration

EXTERNAL = "http://127.0.0.1:19093"
CONFIG = (FIXTURES / "alertmanager" / "receivers_parity.yml").read_text()
# Paramedic only: groups exactly as Alertmanager's (no org/space added to group_by)
PARAMEDIC_ONLY = "tenancy: {group_by_tenant: false}\n"
# slack 1, pagerduty 1, opsgenie 3 (create, message, description), telegram 1, hooks 2, custom templates 2
FIRING_REQUESTS = 10
RESOLVED_REQUESTS = 8  # slack 1, pagerduty 1, opsgenie close 1, telegram 1, hooks 2, custom templates 2
HEADERS = ("content-type", "authorization", "user-agent")


@dataclass(frozen=True)
class Peers:
    am_url: str
    ours_url: str
    am_sink: RecordingSink
    our_sink: RecordingSink


def _config(port: int, tmp: Path) -> str:
    (tmp / "password").write_text("hook-pass-1\n")  # trailing newline stripped, as Prometheus does
    (tmp / "token").write_text("hook-token-2")
    (tmp / "pd-key").write_text("pd-routing-key-0123\n")
    (tmp / "og-key").write_text("og-api-key-0123")  # Alertmanager sends an Opsgenie key file unstripped
    return (
        CONFIG.replace("SINK", str(port))
        .replace("PASSWORD_FILE", str(tmp / "password"))
        .replace("TOKEN_FILE", str(tmp / "token"))
        .replace("PD_KEY_FILE", str(tmp / "pd-key"))
        .replace("OG_KEY_FILE", str(tmp / "og-key"))
    )


def _build(options: dict[str, Any]) -> Notifier:
    return build_notifier(notifier_config(options, GlobalConfig()))


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peers]:
    tmp = tmp_path_factory.mktemp("am-receivers")
    with recording_sink() as am_sink, recording_sink() as our_sink:
        (tmp / "am.yml").write_text(_config(am_sink.port, tmp))
        port = free_port()
        argv = [
            require_binary("prometheus-alertmanager"),
            f"--config.file={tmp / 'am.yml'}",
            f"--storage.path={tmp / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={EXTERNAL}",
            "--cluster.listen-address=",
        ]
        ours_config = _config(our_sink.port, tmp) + PARAMEDIC_ONLY
        with (
            running("alertmanager", argv, tmp / "am.log", f"http://127.0.0.1:{port}/-/ready"),
            paramedic_am(ours_config, tmp / "paramedic", external_url=EXTERNAL, build=_build) as ours,
        ):
            yield Peers(f"http://127.0.0.1:{port}", ours, am_sink, our_sink)


def _alerts(starts: datetime, ends: datetime | None) -> list[dict[str, Any]]:
    common = {"alertname": "AppInstanceCrashed", "org": "acme", "space": "prod", "app": "catalog"}
    out = []
    for i, summary in enumerate(["instance 0 crashed <oom>", "instance 1 crashed & restarted"]):
        alert: dict[str, Any] = {
            "labels": {**common, "instance_index": str(i), "severity": "critical"},
            "annotations": {"summary": summary, "runbook": "https://runbooks.example/crash?x=1+2"},
            "startsAt": starts.isoformat(),
            "generatorURL": "http://prom.example:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
        }
        if ends is not None:
            alert["endsAt"] = ends.isoformat()
        out.append(alert)
    return out


def _post(url: str, alerts: list[dict[str, Any]]) -> None:
    httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()


def _by_route(requests: list[Request]) -> dict[tuple[str, str], list[Request]]:
    out: dict[tuple[str, str], list[Request]] = {}
    for r in requests:
        out.setdefault((r.method, r.path), []).append(r)
    return out


def _has(sink: RecordingSink, n: int) -> bool:
    """Whether ``sink`` has ``n`` requests (a function, not a lambda with a default: mypy types it)."""
    return len(sink.snapshot()) >= n


def _compare(peers: Peers, first: int, count: int) -> dict[tuple[str, str], Request]:
    for sink, who in ((peers.am_sink, "Alertmanager"), (peers.our_sink, "Paramedic")):
        try:
            wait_until(partial(_has, sink, first + count), 30, f"{count} requests from {who}")
        except TimeoutError as exc:
            got = [(r.method, r.path) for r in sink.snapshot()[first:]]
            raise AssertionError(f"{who} sent {got}, want {count} requests") from exc
    theirs = _by_route(peers.am_sink.snapshot()[first:])
    ours = _by_route(peers.our_sink.snapshot()[first:])
    assert sorted(ours) == sorted(theirs)
    for route, reqs in theirs.items():
        assert len(ours[route]) == len(reqs) == 1, route
        mine, real = ours[route][0], reqs[0]
        assert mine.body == real.body, (route, mine.body.decode(), real.body.decode())
        for name in HEADERS:
            assert mine.headers.get(name) == real.headers.get(name), (route, name)
    return {route: reqs[0] for route, reqs in theirs.items()}


def test_firing_then_resolved_requests_equal_alertmanagers(peers: Peers) -> None:
    # Starting now, not in the past: Alertmanager flushes a group at once when an alert's startsAt is
    # already group_wait old, racing the insertion of the second alert of the same POST (FIRING:1 vs 2).
    starts = datetime.now(UTC).replace(microsecond=0)
    for url in (peers.am_url, peers.ours_url):
        _post(url, _alerts(starts, None))
    firing = _compare(peers, 0, FIRING_REQUESTS)
    # what the comparison covered: every receiver's request, with auth that came from the files
    paths = {path for _, path in firing}
    assert {"/slack/T000/B000/XXXsecret", "/pagerduty/v2/enqueue", "/opsgenie/v2/alerts"} <= paths
    assert "/telegram/bot123456:telegram-token/sendMessage" in paths
    assert {"/slack-custom", "/telegram-custom/bot99:custom/sendMessage"} <= paths  # operator templates
    assert b"FIRING: AppInstanceCrashed in acme/prod" in firing["POST", "/slack-custom"].body
    assert firing["POST", "/hook/basic"].headers["authorization"] == "Basic YW06aG9vay1wYXNzLTE="
    assert firing["POST", "/hook/bearer"].headers["authorization"] == "Token hook-token-2"
    assert firing["POST", "/opsgenie/v2/alerts"].headers["authorization"] == "GenieKey og-api-key-0123"
    assert b'"event_action":"trigger"' in firing["POST", "/pagerduty/v2/enqueue"].body
    assert b'"routing_key":"pd-routing-key-0123"' in firing["POST", "/pagerduty/v2/enqueue"].body
    assert b"\\u0026lt;oom\\u0026gt;" in firing["POST", "/telegram/bot123456:telegram-token/sendMessage"].body

    ends = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    assert ends > starts  # the firing phase waited group_wait (4 s): the alerts resolve after they started
    for url in (peers.am_url, peers.ours_url):
        _post(url, _alerts(starts, ends))
    resolved = _compare(peers, FIRING_REQUESTS, RESOLVED_REQUESTS)
    assert b'"event_action":"resolve"' in resolved["POST", "/pagerduty/v2/enqueue"].body
    assert any(path.endswith("/close?identifierType=alias") for _, path in resolved)
