"""Issue 13's story on the CF-compatible simulated foundation (platforms.cf_sim.stack.CFStack: the local
platform's real HAProxy/supervisord/sample app behind a simulated CC API v3, UAA and Log Cache), watched by a
real ``paramedic serve`` configured exactly as for a foundation (paramedic.demo._cf_config):

an errors fault in ``acme/prod/api`` -> the per-app KPI alert (CFAppErrorRatioHigh, from Log Cache's router
data) -> an explained email -> the CF policy -> a rolling deployment through the CC API -> verified; the
same-named ``api`` of ``globex/prod`` is untouched (same processes, no CC write). Not Cloud Foundry: the
fidelity of the CC responses is checked in tests/platforms/cf_sim against the official API examples.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry

from paramedic.auth import TokenStore
from paramedic.config import parse_config
from paramedic.demo._cf_config import cf_demo_config
from paramedic.demo._config import DemoSinks
from platforms.cf_sim.foundation import CFApp, default_foundation
from platforms.cf_sim.runner import SimOptions
from platforms.cf_sim.stack import CFStack, StackOptions
from platforms.local.fault_client import inject_fault
from platforms.local.smtp_sink import list_mails
from platforms.tenancy import parse_grant
from tests.support.servers import ManagedProcess, free_port, require_binary, wait_http, wait_until
from tests.tenancy.attacks import Probe

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
INTERVAL_S = 1.0
FOUNDATION = default_foundation()
ACME = next(a for a in FOUNDATION.apps if (a.org, a.space, a.name) == ("acme", "prod", "api"))
GLOBEX = next(a for a in FOUNDATION.apps if (a.org, a.space, a.name) == ("globex", "prod", "api"))
ACME_WEB = {a.guid for a in FOUNDATION.apps if (a.org, a.space, a.name) == ("acme", "prod", "web")}


@dataclass
class Story:
    cf: CFStack
    api: str
    token: str
    mail_dir: Path
    serve: ManagedProcess
    data: Path

    def get(self, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        resp = httpx.get(f"{self.api}{path}", params=params, headers=headers, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def cc(self, path: str, **params: Any) -> Any:
        """A CC API v3 GET as the foundation's admin (what an operator's `cf curl` shows)."""
        creds = self.cf.credentials()
        users: dict[str, str] = creds["users"]  # type: ignore[assignment]
        tok = httpx.post(
            f"{self.cf.sim.uaa_url}/oauth/token",
            data={"grant_type": "password", "username": "admin", "password": users["admin"]},
            auth=("cf", ""),
            timeout=10,
        ).json()["access_token"]
        resp = httpx.get(
            f"{self.cf.sim.cc_url}{path}",
            params=params,
            headers={"Authorization": f"bearer {tok}"},
            timeout=10,
        )
        resp.raise_for_status()
        return resp.json()

    def pids(self, app: CFApp) -> dict[int, int | None]:
        assert self.cf.sim.platform is not None
        return {i.index: i.pid for i in self.cf.sim.platform.instances(app.local_app)}


class _Load:
    """Requests to both ``api`` apps through the foundation's router, ~20/s, until stopped."""

    def __init__(self, router: str) -> None:
        self.router = router
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.wait(0.05):
                for app in (ACME, GLOBEX):
                    with contextlib.suppress(httpx.HTTPError):
                        client.get(f"{self.router}/api/items", headers={"Host": f"{app.local_app}.local"})

    def __enter__(self) -> _Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)


def _sinks(tmp: Path) -> tuple[DemoSinks, ManagedProcess]:
    sinks = DemoSinks(smtp_port=free_port(), webhook_port=free_port())
    proc = ManagedProcess(
        "sinks",
        [sys.executable, "-m", "platforms.local.smtp_sink", "--mail-dir", str(tmp / "mail"), "--webhook-dir",
         str(tmp / "webhooks"), "--smtp-port", str(sinks.smtp_port), "--http-port", str(sinks.webhook_port)],
        tmp / "sinks.log",
        cwd=REPO,
    )  # fmt: skip
    wait_http(f"http://127.0.0.1:{sinks.webhook_port}/", 30, proc)
    return sinks, proc


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    for binary in ("haproxy", "victoria-metrics", "supervisord"):
        require_binary(binary)
    tmp = tmp_path_factory.mktemp("cf-story")
    http_port, syslog_port = free_port(), free_port()
    options = StackOptions(
        sim=SimOptions(instances=2), drain_urls=(f"syslog://127.0.0.1:{syslog_port}",), metrics_interval_s=0.5
    )
    sinks, sink_proc = _sinks(tmp)
    try:
        with CFStack(tmp / "foundation", options, registry=CollectorRegistry()) as cf:
            data = tmp / "paramedic"
            data.mkdir()
            cfg = cf_demo_config(data, http_port, INTERVAL_S, syslog_port, dict(cf.credentials()), sinks)
            text = yaml.safe_dump(cfg, sort_keys=False)
            parse_config(text, str(data / "paramedic.yaml"))
            (data / "paramedic.yaml").write_text(text)
            token = TokenStore(data / "tokens.json").create("story", "admin")
            serve = ManagedProcess(
                "paramedic-cf",
                [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(data / "paramedic.yaml")],
                tmp / "paramedic.log",
                cwd=REPO,
            )
            try:
                api = f"http://127.0.0.1:{http_port}"
                wait_http(f"{api}/-/ready", 60, serve)
                yield Story(cf, api, token, tmp / "mail", serve, data)
            finally:
                serve.stop(20)
    finally:
        sink_proc.stop(5)


def _firing(story: Story, alertname: str, guid: str) -> list[dict[str, Any]]:
    alerts = story.get("/api/v2/alerts", filter=f'alertname="{alertname}"')
    return [a for a in alerts if a["labels"].get("app_guid") == guid and a["status"]["state"] == "active"]


def test_errors_fault_alert_email_rolling_restart_verified_twin_untouched(story: Story) -> None:
    cf = story.cf
    assert cf.sim.platform is not None
    router = f"http://127.0.0.1:{cf.sim.platform.state().router_port}"
    twin_pids = story.pids(GLOBEX)
    acme_pids = story.pids(ACME)
    with _Load(router):
        # the per-app series arrive from Log Cache with the app's identity (GUID, name, space, org)
        def polled() -> bool:
            result = story.get("/api/v1/query", query="cf_app_http_requests_per_second")["data"]["result"]
            guids = {r["metric"].get("app_guid") for r in result}
            return {ACME.guid, GLOBEX.guid} <= guids

        wait_until(polled, 60, "per-app router series from Log Cache for both api apps", interval_s=0.5)
        [row] = [
            r["metric"]
            for r in story.get(
                "/api/v1/query", query=f'cf_app_http_requests_per_second{{app_guid="{ACME.guid}"}}'
            )["data"]["result"]
        ][:1]
        assert (row["app"], row["space"], row["org"]) == ("api", "prod", "acme")

        inject_fault(cf.sim.platform.paths, ACME.local_app, "errors", rate=1.0)
        started = time.monotonic()
        wait_until(lambda: bool(_firing(story, "CFAppErrorRatioHigh", ACME.guid)), 90, "CFAppErrorRatioHigh")
        assert not _firing(story, "CFAppErrorRatioHigh", GLOBEX.guid)  # the twin serves fine

        mail_text: list[str] = []

        def mailed() -> bool:
            for _, m in list_mails(story.mail_dir):
                part = m.get_body(("plain",))
                if "CFAppErrorRatioHigh" in str(m["Subject"]) and part is not None:
                    mail_text.append(str(part.get_content()))
                    return True
            return False

        wait_until(mailed, 60, "the explained alert email")
        # the email explains why: the app (name, space, org) and its runbook text from the pack
        assert "acme" in mail_text[0] and "api" in mail_text[0] and "rolling restart" in mail_text[0], (
            mail_text
        )

        action: dict[str, Any] = {}

        def remediated() -> bool:
            found = story.get("/api/v1/actions", policy="cf-restart-erroring-app")["actions"]
            mine = [a for a in found if a["target"]["app"] == ACME.guid]
            if mine and mine[0]["status"] in ("verified", "failed", "escalated", "refused"):
                action.update(story.get(f"/api/v1/actions/{mine[0]['id']}"))
                return True
            return False

        wait_until(remediated, 240, "the rolling restart to be verified", interval_s=1.0)
    took = time.monotonic() - started
    assert action["status"] == "verified", (action["status"], action["events"][-5:], took)
    calls = [e["data"]["call"] for e in action["events"] if e["kind"] == "platform_call"]
    assert "restart_app" in calls, calls
    # what the CC recorded: a rolling deployment of acme/prod/api, nothing written for globex/prod/api
    events = story.cc("/v3/audit_events", target_guids=ACME.guid, per_page=200)["resources"]
    assert "audit.app.deployment.create" in {e["type"] for e in events}
    twin_events = story.cc("/v3/audit_events", target_guids=GLOBEX.guid, per_page=200)["resources"]
    assert {e["type"] for e in twin_events} <= {"audit.app.create", "audit.app.droplet.create"}, twin_events
    assert story.pids(GLOBEX) == twin_pids  # the same processes: never restarted
    assert story.pids(ACME) != acme_pids  # the erroring instances were replaced


def _space_probe(story: Story, org: str, space: str) -> Probe:
    """An operator token of ``org/space`` and what it must never see: the other spaces' app GUIDs, the names
    of the other orgs and spaces (the shared name ``api`` is everyone's, so GUIDs tell the apps apart)."""
    token = TokenStore(story.data / "tokens.json").create(
        f"{org}-{space}-operator", "operator", grants=[parse_grant(f"{org}/{space}", "operator")]
    )
    others = [a for a in FOUNDATION.apps if (a.org, a.space) != (org, space)]
    names = {a.org for a in others if a.org != org} | {a.space for a in others if a.space != space}
    return Probe(
        story.api, token, story.token, org, space, tuple(a.guid for a in others), tuple(sorted(names))
    )


def test_tenancy_on_the_foundation_a_space_sees_and_does_nothing_of_another(story: Story) -> None:
    """Issue 14's attacks on the CF demo, after the story (acme/prod/api erred, alerted and was restarted):
    globex/prod's operator, whose app has the same name ``api``, gets nothing of acme's; acme/prod's operator
    sees its own alert history and action and nothing of globex's."""
    globex = _space_probe(story, "globex", "prod")
    acme = _space_probe(story, "acme", "prod")
    acme_actions = acme.check_actions()
    assert acme_actions and all(a["target"]["app"] in {ACME.guid, *ACME_WEB} for a in acme_actions)
    assert globex.check_promql() > 0 and acme.check_promql() > 0
    globex.check_series_and_labels()
    acme.check_series_and_labels()
    assert globex.check_logs() > 0
    assert globex.check_tail() >= 0  # (globex's app may be idle now: what arrives must be its own)
    globex.check_alerts()
    assert globex.check_rules() > 0 and acme.check_rules() > 0
    globex.check_silences()
    assert globex.check_actions() == []
    for action in acme_actions:
        globex.refused_foreign_action(action["id"])
    globex.check_reports()  # acme's alert, action and patterns of the story stay out of globex's report
    globex.check_capacity()  # the Diego cells are the foundation's
    # the same-named app of the other space is not globex's app page, timeline or log context
    assert globex.call("GET", f"/apps/{ACME.guid}").status_code == 404
    now = time.time()
    events = globex.call("GET", f"/apps/{ACME.guid}/events.json", params={"start": now - 1800, "end": now})
    assert events.status_code == 404


def test_dashboards_and_timeline_on_the_foundation(story: Story) -> None:
    """After the story: the foundation overview lists both ``api`` apps under their org/space, the app page
    of acme/prod/api (addressed by GUID) draws its CF series, and its timeline carries the CC's own audit
    events (the platform's record of the rolling deployment) beside Paramedic's alert and action."""
    headers = {"Authorization": f"Bearer {story.token}"}
    overview = httpx.get(f"{story.api}/", headers=headers, timeout=30)
    assert overview.status_code == 200
    html = overview.text
    assert "Foundation overview" in html
    assert ACME.guid in html and GLOBEX.guid in html and "globex" in html
    page = httpx.get(f"{story.api}/apps/{ACME.guid}", headers=headers, timeout=30)
    assert page.status_code == 200 and "acme" in page.text and "prod" in page.text
    assert "app_guid:" in page.text  # the logs links search the drain's app GUID, not the shared name
    # the app's logs came through the foundation's syslog drain with CF's org.space.app hostname
    logs = story.get("/api/v1/logs/search", q=f'app_guid:"{ACME.guid}"', limit=5)["data"]
    assert logs["total"] > 0, logs
    where = {(h["labels"].get("org"), h["labels"].get("space"), h["labels"].get("app")) for h in logs["hits"]}
    assert where == {("acme", "prod", "api")}, logs["hits"][:2]
    now = time.time()
    events = httpx.get(
        f"{story.api}/apps/{ACME.guid}/events.json",
        params={"start": now - 1800, "end": now + 60},
        headers=headers,
        timeout=30,
    ).json()
    kinds = {(e.get("source"), e.get("type")) for e in events["events"]}
    assert ("platform", "deployment") in kinds, events
    # Paramedic's own action (the rolling restart of the story) is on the app's timeline, found by GUID
    assert any(e.get("kind") == "action" for e in events["events"]), events
    assert not events.get("notes"), events["notes"]
    twin = httpx.get(
        f"{story.api}/apps/{GLOBEX.guid}/events.json",
        params={"start": now - 1800, "end": now + 60},
        headers=headers,
        timeout=30,
    ).json()
    assert ("platform", "deployment") not in {(e.get("source"), e.get("type")) for e in twin["events"]}
    assert not any(e.get("kind") == "action" for e in twin["events"]), twin


def _bad_revision(story: Story) -> str:
    """A new revision of acme/prod/api with the errors fault baked in (as a bad push would be), by its CF
    revision GUID as the CC lists it."""
    platform = story.cf.sim.platform
    assert platform is not None
    platform.create_revision(ACME.local_app, "9.9.9-bad", env={"SAMPLE_APP_FAULT": "errors"})
    revisions = story.cc(f"/v3/apps/{ACME.guid}/revisions", per_page=50)["resources"]
    newest = max(revisions, key=lambda r: int(r["version"]))
    assert "9.9.9-bad" in str(newest.get("description")), newest
    return str(newest["guid"])


def test_a_bad_canary_is_judged_on_log_cache_data_and_cancelled_through_the_cc(story: Story) -> None:
    revision = _bad_revision(story)
    assert story.cf.sim.platform is not None
    router = f"http://127.0.0.1:{story.cf.sim.platform.state().router_port}"
    body: dict[str, object] = {"app": ACME.guid, "revision": revision, "gates": "cloudfoundry"}
    body |= {"steps": [50, 100], "step_duration_s": 30}
    headers = {"Authorization": f"Bearer {story.token}"}
    with _Load(router):
        resp = httpx.post(f"{story.api}/api/v1/deployments", json=body, headers=headers, timeout=30)
        assert resp.status_code in (200, 201, 202), resp.text
        action_id = resp.json()["id"]
        record: dict[str, Any] = {}

        def finished() -> bool:
            record.update(story.get(f"/api/v1/actions/{action_id}"))
            return record["status"] not in ("requested", "running", "verifying", "deferred")

        wait_until(finished, 180, "the canary to be judged", interval_s=1.0)
    steps = [e["data"] for e in record["events"] if e["kind"] == "step"]
    assert steps and steps[-1]["passed"] is False, (record["status"], record["events"][-6:])
    assert steps[-1]["verdicts"]["error_ratio"]["passed"] is False, steps[-1]
    calls = [e["data"]["call"] for e in record["events"] if e["kind"] == "platform_call"]
    assert "cancel_deployment" in calls and "promote_deployment" not in calls, calls
    # the CC's own record: the canary deployment of that revision ended CANCELED
    deployments = story.cc("/v3/deployments", app_guids=ACME.guid, per_page=50)["resources"]
    canaries = [d for d in deployments if d["strategy"] == "canary"]
    assert canaries, deployments
    canary = max(canaries, key=lambda d: str(d["created_at"]))
    assert canary["status"]["reason"] == "CANCELED", canary
    # deploying a revision makes a new revision of the same code and environment (as CF does): the bad one
    deployed = story.cc(f"/v3/revisions/{canary['revision']['guid']}")
    assert deployed["guid"] != revision and "9.9.9-bad" in str(deployed.get("description")), deployed
