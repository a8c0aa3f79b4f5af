"""Tenancy of alerting, tried as an attacker in acme/prod: the Alertmanager API (alerts, groups, silences,
acks, receivers, status, notification log) behind the real auth middleware and token store, and receivers per
space delivering through the demo's real SMTP sink and webhook receiver.

The world: HighLatency firing in acme/prod (two apps), acme/dev, globex/prod and globex/dev, and RouterDown of
the foundation (no org). The route tree sends acme/prod to team-a, globex to globex, the rest to the NOC, all
with ``group_by: [alertname]`` only: Paramedic's tenant grouping must still keep each space in its own group.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from alerting.am_api import am_router
from alerting.base import Notifier
from alerting.config import notifier_config
from alerting.dispatch import Dispatcher, parse_config
from alerting.dispatch.config import GlobalConfig
from alerting.notify.factory import build_notifier
from paramedic.auth import TokenStore, install
from paramedic.config import AuthConfig
from platforms.cf_sim.foundation import default_foundation, guid_for
from platforms.local.smtp_sink import list_mails
from platforms.tenancy import Grant
from tests.alerting._dispatch_support import Clock
from tests.support.servers import ManagedProcess, free_port, wait_http, wait_until

REPO = Path(__file__).resolve().parents[2]
# The CF simulation's apps (the same app name "api" in three spaces) and a worker of globex/dev
APPS = [(a.org, a.space, a.name, a.guid) for a in default_foundation().apps]
APPS.append(("globex", "dev", "worker", guid_for("app", "globex", "dev", "worker")))
TENANTS = [(org, space, name) for org, space, name, _ in APPS]
FOREIGN = {("acme", "dev"), ("globex", "prod"), ("globex", "dev"), (None, None)}

CONFIG = """
limits: {{max_alerts_per_tenant: 3, max_silences_per_tenant: 3}}
route:
  receiver: noc
  group_by: [alertname]
  group_wait: 1s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['org="acme"', 'space="prod"']
      receiver: team-a
    - matchers: ['org="globex"']
      receiver: globex
receivers:
  - name: noc
    notifiers:
      - {{type: email, to: [noc@foundation.example], sender: pm@example.org, port: {smtp}, security: plain}}
  - name: team-a
    notifiers:
      - {{type: email, to: [team-a@acme.example], sender: pm@example.org, port: {smtp}, security: plain}}
      - {{type: webhook, url: "http://127.0.0.1:{http}/team-a"}}
  - name: globex
    notifiers:
      - {{type: email, to: [ops@globex.example], sender: pm@example.org, port: {smtp}, security: plain}}
      - {{type: webhook, url: "http://127.0.0.1:{http}/globex"}}
"""


@dataclass
class World:
    client: TestClient
    dispatcher: Dispatcher
    clock: Clock
    mail_dir: Path
    hook_dir: Path
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who: str, path: str, **params: Any) -> Any:
        r = self.client.get(f"/api/v2{path}", params=params, headers=self.auth(who))
        assert r.status_code == 200, (who, path, r.status_code, r.text)
        return r.json()

    def ack(self, who: str, **params: str) -> Any:
        return self.client.post("/api/v2/paramedic/ack", params=params, headers=self.auth(who))

    def silence(self, who: str, *matchers: tuple[str, str, bool, bool], sid: str = "") -> Any:
        now = self.clock()
        body: dict[str, Any] = {
            "matchers": [{"name": n, "value": v, "isRegex": rx, "isEqual": eq} for n, v, rx, eq in matchers],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
            "createdBy": who,
            "comment": "tenancy test",
        }
        if sid:
            body["id"] = sid
        return self.client.post("/api/v2/silences", json=body, headers=self.auth(who))


def _platform_tenant_of(app: str) -> tuple[str, str] | None:
    """As the CF adapter answers: by GUID, or by a name exactly one app has (``api`` is in three spaces)."""
    found = {(o, s) for o, s, name, guid in APPS if app in (guid, name)}
    return found.pop() if len(found) == 1 else None


def _eq(name: str, value: str) -> tuple[str, str, bool, bool]:
    return (name, value, False, True)


def _tenant(labels: dict[str, str]) -> tuple[str | None, str | None]:
    return labels.get("org"), labels.get("space")


def _text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _listed(text: str, name: str) -> list[str]:
    """The values of label ``name`` in the Labels: sections of a notification mail's text part."""
    return [line.strip()[len(name) + 1 :] for line in text.splitlines() if line.startswith(f"  {name}=")]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("talerts")
    smtp, http = free_port(), free_port()
    mail_dir, hook_dir = tmp / "mail", tmp / "hooks"
    sinks = ManagedProcess(
        "sinks",
        [sys.executable, "-m", "platforms.local.smtp_sink", "--mail-dir", str(mail_dir), "--webhook-dir",
         str(hook_dir), "--smtp-port", str(smtp), "--http-port", str(http)],
        tmp / "sinks.log",
        cwd=REPO,
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{http}/", 30, sinks)
        clock = Clock(datetime.now(UTC).replace(microsecond=0))

        def build(options: dict[str, Any]) -> Notifier:
            return build_notifier(notifier_config(options, GlobalConfig()))

        dispatcher = Dispatcher(
            parse_config(CONFIG.format(smtp=smtp, http=http)),
            build,
            clock=clock,
            registry=CollectorRegistry(),
        )
        app = FastAPI()
        install(app, AuthConfig(tokens_file=str(tmp / "t.json")), base_dir=tmp, registry=CollectorRegistry())
        app.include_router(
            am_router(dispatcher, config_text="route: {receiver: noc}\n", tenant_of=_platform_tenant_of)
        )
        store = TokenStore(tmp / "t.json")
        tokens = {
            "admin": store.create("admin", "admin"),
            "noc": store.create("noc", "operator"),
            "a-viewer": store.create("a-viewer", "viewer", grants=[Grant("acme", "prod", "viewer")]),
            "a-op": store.create("a-op", "operator", grants=[Grant("acme", "prod", "operator")]),
            "a-both": store.create(
                "a-both",
                "operator",
                grants=[Grant("acme", "prod", "operator"), Grant("acme", "dev", "operator")],
            ),
            "a-mixed": store.create(
                "a-mixed",
                "operator",
                grants=[Grant("acme", "prod", "operator"), Grant("acme", "dev", "viewer")],
            ),
            "initech-op": store.create(
                "initech-op", "operator", grants=[Grant("initech", "prod", "operator")]
            ),
            "globex-op": store.create("globex-op", "operator", grants=[Grant("globex", None, "operator")]),
        }
        with TestClient(app) as client:
            w = World(client, dispatcher, clock, mail_dir, hook_dir, tokens)
            alerts = [
                {"labels": {"alertname": "HighLatency", "org": o, "space": s, "app": a, "app_guid": g}}
                for o, s, a, g in APPS
            ]
            alerts.append({"labels": {"alertname": "RouterDown", "job": "router"}})
            r = client.post("/api/v2/alerts", json=alerts, headers=w.auth("admin"))
            assert r.status_code == 200, r.text
            clock.advance(2)  # past group_wait
            assert asyncio.run(dispatcher.flush_due()) == 5  # acme/prod, acme/dev, globex x2, RouterDown
            wait_until(lambda: len(list_mails(mail_dir)) >= 5, 20, "five notification mails")
            wait_until(lambda: len(list(hook_dir.glob("*.json"))) >= 3, 20, "three webhook posts")
            yield w
    finally:
        sinks.stop()


# -- alerts and groups ---------------------------------------------------------------------------------------


def test_a_space_viewer_sees_only_its_space_alerts(world: World) -> None:
    everything = world.get("admin", "/alerts")
    assert {_tenant(a["labels"]) for a in everything} == {(o, s) for o, s, _ in TENANTS} | {(None, None)}
    mine = world.get("a-viewer", "/alerts")
    expected = [a["fingerprint"] for a in everything if _tenant(a["labels"]) == ("acme", "prod")]
    assert len(expected) == 2 and [a["fingerprint"] for a in mine] == expected
    org_wide = world.get("globex-op", "/alerts")
    assert {_tenant(a["labels"]) for a in org_wide} == {("globex", "prod"), ("globex", "dev")}


@pytest.mark.parametrize(
    "params",
    [
        {"filter": 'space=~".*"'},
        {"filter": 'org="globex"'},
        {"filter": 'org!="acme"'},
        {"filter": 'alertname="RouterDown"'},
        {"receiver": ".*"},
        {"receiver": "globex"},
        {"receiver": "noc"},
        {"filter": 'space=~".+"', "receiver": ".+", "silenced": "true", "inhibited": "true"},
    ],
)
def test_filter_and_receiver_only_narrow(world: World, params: dict[str, str]) -> None:
    for path in ("/alerts", "/alerts/groups"):
        got = world.get("a-viewer", path, **params)
        alerts = got if path == "/alerts" else [a for g in got for a in g["alerts"]]
        assert all(_tenant(a["labels"]) == ("acme", "prod") for a in alerts), (path, params)
    widest = world.get("a-viewer", "/alerts", filter='space=~".*"', receiver=".*")
    assert len(widest) == 2


def test_the_same_named_app_in_another_space_stays_hidden(world: World) -> None:
    everything = world.get("admin", "/alerts", filter='app="api"')
    assert len({_tenant(a["labels"]) for a in everything}) == 3  # api runs in three spaces
    mine = world.get("a-viewer", "/alerts", filter='app="api"')
    assert [(_tenant(a["labels"]), a["labels"]["app_guid"]) for a in mine] == [
        (("acme", "prod"), guid_for("app", "acme", "prod", "api"))
    ]
    dev_guid = guid_for("app", "acme", "dev", "api")
    assert world.get("a-viewer", "/alerts", filter=f'app_guid="{dev_guid}"') == []
    assert world.get("a-viewer", "/alerts/groups", filter=f'app_guid="{dev_guid}"') == []


def test_groups_keep_each_space_apart_and_hide_other_tenants(world: World) -> None:
    groups = world.get("admin", "/alerts/groups")
    latency = [g for g in groups if g["labels"].get("alertname") == "HighLatency"]
    # group_by is [alertname] only, yet every space has its own group (tenant grouping)
    assert sorted(_tenant(g["labels"]) for g in latency) == sorted({(o, s) for o, s, _ in TENANTS})
    for g in groups:
        assert {_tenant(a["labels"]) for a in g["alerts"]} == {_tenant(g["labels"])}
    mine = world.get("a-viewer", "/alerts/groups")
    assert [(g["receiver"]["name"], _tenant(g["labels"])) for g in mine] == [("team-a", ("acme", "prod"))]
    assert len(mine[0]["alerts"]) == 2
    assert "globex" not in json.dumps(mine) and '"dev"' not in json.dumps(mine)


# -- receivers per space: real SMTP and webhook deliveries ---------------------------------------------------


def test_each_space_notifies_its_own_receiver_and_never_mixes_tenants(world: World) -> None:
    by_rcpt: dict[str, list[set[tuple[str, str]]]] = {}
    for _, msg in list_mails(world.mail_dir):
        text = _text(msg)
        tenants = set(zip(_listed(text, "org"), _listed(text, "space"), strict=True))
        by_rcpt.setdefault(str(msg["To"]), []).append(tenants)
    assert by_rcpt["team-a@acme.example"] == [{("acme", "prod")}]
    assert sorted(map(sorted, by_rcpt["ops@globex.example"])) == [[("globex", "dev")], [("globex", "prod")]]
    assert sorted(map(sorted, by_rcpt["noc@foundation.example"])) == [[], [("acme", "dev")]]
    hooks = [json.loads(p.read_text()) for p in sorted(world.hook_dir.glob("*.json"))]
    seen: dict[str, list[tuple[Any, ...]]] = {}
    for body in hooks:
        tenants = {_tenant(a["labels"]) for a in body["alerts"]}
        assert len(tenants) == 1, body["groupKey"]
        assert _tenant(body["groupLabels"]) == next(iter(tenants))
        seen.setdefault(body["receiver"], []).append((*next(iter(tenants)), len(body["alerts"])))
    assert set(seen) == {"team-a", "globex"} and seen["team-a"] == [("acme", "prod", 2)]
    assert sorted(seen["globex"]) == [("globex", "dev", 1), ("globex", "prod", 1)]


def test_notification_log_is_filtered_to_the_scope(world: World) -> None:
    everything = world.get("admin", "/paramedic/notifications")
    assert {_tenant(e["groupLabels"]) for e in everything} == {
        ("acme", "prod"),
        ("acme", "dev"),
        ("globex", "prod"),
        ("globex", "dev"),
        (None, None),
    }
    mine = world.get("a-viewer", "/paramedic/notifications")
    assert mine and {(_tenant(e["groupLabels"]), e["receiver"]) for e in mine} == {
        (("acme", "prod"), "team-a")
    }
    ours = {fp for e in mine for fp in e["firing"]}
    assert ours == {a["fingerprint"] for a in world.get("a-viewer", "/alerts")}


def test_receivers_and_status_do_not_show_other_teams(world: World) -> None:
    assert [r["name"] for r in world.get("admin", "/receivers")] == ["noc", "team-a", "globex"]
    assert [r["name"] for r in world.get("a-viewer", "/receivers")] == ["noc", "team-a"]
    assert [r["name"] for r in world.get("globex-op", "/receivers")] == ["noc", "globex"]
    assert world.get("admin", "/status")["config"]["original"]
    assert world.get("a-viewer", "/status")["config"]["original"] == ""


# -- posting alerts and acknowledging ------------------------------------------------------------------------


def test_a_space_operator_posts_only_its_space_alerts(world: World) -> None:
    for labels in (
        {"alertname": "Fake", "org": "globex", "space": "prod"},
        {"alertname": "Fake", "org": "acme", "space": "dev"},
        {"alertname": "Fake", "job": "router"},
        {"alertname": "Fake", "space": "prod"},
    ):
        batch = [{"labels": {"alertname": "Ok", "org": "acme", "space": "prod"}}, {"labels": labels}]
        r = world.client.post("/api/v2/alerts", json=batch, headers=world.auth("a-op"))
        assert r.status_code == 403 and "operator of acme/prod" in r.text, (labels, r.text)
    assert not [a for a in world.get("admin", "/alerts") if a["labels"]["alertname"] in ("Fake", "Ok")]


def test_a_space_operator_cannot_post_its_labels_on_another_spaces_app(world: World) -> None:
    """Routes and inhibit rules may match on ``app``: an alert of acme/prod naming globex's app (by GUID) is
    refused; naming its own app (``web``, only in acme/prod) is accepted."""
    globex_api = next(g for o, s, name, g in APPS if (o, s, name) == ("globex", "prod", "api"))
    own = {"alertname": "Mine", "org": "acme", "space": "prod"}
    for labels in ({**own, "app_guid": globex_api}, {**own, "app": "worker"}):
        r = world.client.post("/api/v2/alerts", json=[{"labels": labels}], headers=world.auth("a-op"))
        assert r.status_code == 403 and "their app one of its apps" in r.text, (labels, r.text)
    r = world.client.post(
        "/api/v2/alerts", json=[{"labels": {**own, "app": "web"}}], headers=world.auth("a-op")
    )
    assert r.status_code == 200, r.text
    assert [
        a["labels"]["app"] for a in world.get("a-op", "/alerts") if a["labels"]["alertname"] == "Mine"
    ] == ["web"]
    ended = (world.clock() - timedelta(seconds=1)).isoformat()  # resolved: the tenant limit test counts
    resolved = [{"labels": {**own, "app": "web"}, "endsAt": ended}]
    assert world.client.post("/api/v2/alerts", json=resolved, headers=world.auth("a-op")).status_code == 200


def test_acks_reach_only_operated_alerts(world: World) -> None:
    everything = world.get("admin", "/alerts")
    fp = {_tenant(a["labels"]): a["fingerprint"] for a in everything}
    for foreign in FOREIGN:
        r = world.ack("a-op", fingerprint=fp[foreign])
        assert r.status_code == 404, (foreign, r.text)
    foreign_group = next(g for g in world.dispatcher.groups() if g.labels.get("org") == "globex").group_key
    r = world.ack("a-op", group_key=foreign_group)
    assert r.status_code == 404
    r = world.ack("a-mixed", fingerprint=fp[("acme", "dev")])
    assert r.status_code == 403 and "acme/dev" in r.text  # seen (viewer) but not operated
    own_group = next(g for g in world.dispatcher.groups() if _tenant(g.labels) == ("acme", "prod")).group_key
    r = world.ack("a-op", group_key=own_group)
    assert r.status_code == 200 and r.json() == {"acked": 2}


# -- silences ------------------------------------------------------------------------------------------------


def _silenced_tenants(world: World, sid: str) -> set[tuple[str | None, str | None]]:
    return {_tenant(a["labels"]) for a in world.get("admin", "/alerts") if sid in a["status"]["silencedBy"]}


def test_a_silence_without_tenant_matchers_is_confined_to_the_operators_space(world: World) -> None:
    r = world.silence("a-op", _eq("alertname", "HighLatency"))
    assert r.status_code == 200, r.text
    sid = r.json()["silenceID"]
    assert r.json()["addedMatchers"] == ['org="acme"', 'space="prod"']
    assert _silenced_tenants(world, sid) == {("acme", "prod")}
    stored = world.get("a-op", f"/silence/{sid}")
    assert {(m["name"], m["value"]) for m in stored["matchers"]} >= {("org", "acme"), ("space", "prod")}
    # an org operator names no space: the org matcher is enough
    r = world.silence("globex-op", _eq("alertname", "HighLatency"))
    assert r.status_code == 200 and r.json()["addedMatchers"] == ['org="globex"']
    assert _silenced_tenants(world, r.json()["silenceID"]) == {("globex", "prod"), ("globex", "dev")}


@pytest.mark.parametrize(
    "matchers",
    [
        [_eq("alertname", "HighLatency"), ("space", ".*", True, True)],
        [_eq("org", "acme"), ("space", "prod|dev", True, True)],
        [("org", "acme|globex", True, True), _eq("space", "prod")],
        [("org", "globex", False, False), _eq("space", "prod")],
        [_eq("org", "acme"), ("space", "dev", False, False)],
        [("space", "prod", True, False), _eq("org", "acme")],
        [_eq("org", "globex"), _eq("space", "prod")],
        [_eq("org", "acme"), _eq("space", "dev")],
        [_eq("org", ""), _eq("alertname", "RouterDown")],
        [_eq("space", "dev")],
    ],
    ids=lambda ms: ",".join(f"{n}{'!' if not eq else ''}{'~' if rx else '='}{v}" for n, v, rx, eq in ms),
)
def test_a_silence_reaching_outside_the_scope_is_refused(
    world: World, matchers: list[tuple[str, str, bool, bool]]
) -> None:
    before = {s["id"] for s in world.get("admin", "/silences")}
    r = world.silence("a-op", *matchers)
    assert r.status_code == 403 and "operator of acme/prod" in r.text, r.text
    assert {s["id"] for s in world.get("admin", "/silences")} == before


def test_an_operator_of_several_spaces_must_name_one(world: World) -> None:
    r = world.silence("a-both", _eq("alertname", "HighLatency"))
    assert r.status_code == 400 and 'org="..." and space="..."' in r.json() and "acme/dev" in r.json()
    r = world.silence("a-both", _eq("alertname", "HighLatency"), _eq("org", "acme"))
    assert r.status_code == 400 and 'space="..."' in r.json() and 'org="..."' not in r.json()
    r = world.silence("a-both", _eq("alertname", "HighLatency"), _eq("space", "dev"))
    assert r.status_code == 200 and r.json()["addedMatchers"] == ['org="acme"']
    assert _silenced_tenants(world, r.json()["silenceID"]) == {("acme", "dev")}


def test_silences_list_only_those_confined_to_the_scope(world: World) -> None:
    foreign = [
        world.silence("admin", _eq("alertname", "RouterDown")),
        world.silence("admin", _eq("alertname", "HighLatency")),  # every tenant's: nobody's
        world.silence("admin", _eq("org", "acme"), _eq("alertname", "HighLatency")),  # org-wide
        world.silence("admin", _eq("org", "globex"), _eq("space", "prod")),
    ]
    own = world.silence("admin", _eq("org", "acme"), _eq("space", "prod"), _eq("app", "web"))
    assert all(r.status_code == 200 for r in [*foreign, own])
    foreign_ids = {r.json()["silenceID"] for r in foreign}
    listed = {s["id"] for s in world.get("a-viewer", "/silences")}
    assert own.json()["silenceID"] in listed and not listed & foreign_ids
    for s in world.get("a-viewer", "/silences", filter='org=~".*"'):
        tenant = {(m["name"], m["value"]) for m in s["matchers"] if not m["isRegex"] and m["isEqual"]}
        assert {("org", "acme"), ("space", "prod")} <= tenant
    everything = {s["id"] for s in world.get("admin", "/silences")}
    assert foreign_ids | {own.json()["silenceID"]} <= everything
    assert {s["id"] for s in world.get("noc", "/silences")} == everything  # foundation operators unchanged


def test_another_tenants_silence_is_404_to_read_update_and_expire(world: World) -> None:
    r = world.silence("admin", _eq("org", "globex"), _eq("space", "prod"), _eq("alertname", "HighLatency"))
    sid = r.json()["silenceID"]
    assert world.client.get(f"/api/v2/silence/{sid}", headers=world.auth("a-viewer")).status_code == 404
    assert world.client.delete(f"/api/v2/silence/{sid}", headers=world.auth("a-op")).status_code == 404
    update = world.silence("a-op", _eq("alertname", "HighLatency"), sid=sid)
    assert update.status_code == 404
    assert world.get("admin", f"/silence/{sid}")["status"]["state"] == "active"
    # visible but only viewed: refusing to act names the scope
    dev = world.silence("admin", _eq("org", "acme"), _eq("space", "dev"))
    gone = world.client.delete(f"/api/v2/silence/{dev.json()['silenceID']}", headers=world.auth("a-mixed"))
    assert gone.status_code == 403 and "viewer of acme/dev" in gone.text
    # and its own silence it expires
    mine = world.silence("a-op", _eq("alertname", "Whatever")).json()["silenceID"]
    assert world.client.delete(f"/api/v2/silence/{mine}", headers=world.auth("a-op")).status_code == 200
    assert world.get("a-op", f"/silence/{mine}")["status"]["state"] == "expired"


def test_foundation_operators_silence_as_before(world: World) -> None:
    r = world.silence("noc", _eq("alertname", "RouterDown"))
    assert r.status_code == 200 and "addedMatchers" not in r.json()
    assert _silenced_tenants(world, r.json()["silenceID"]) == {(None, None)}


def test_a_tenant_cannot_fill_the_alert_store_for_the_others(world: World) -> None:
    def post(who: str, apps: range, **extra: str) -> Any:
        labels = [{"alertname": "Flood", "org": "initech", "space": "prod", "app": f"a{i}"} for i in apps]
        body = [{"labels": lb, **extra} for lb in labels]
        return world.client.post("/api/v2/alerts", json=body, headers=world.auth(who))

    def held() -> int:
        return sum(1 for a in world.get("admin", "/alerts") if a["labels"].get("org") == "initech")

    r = post("initech-op", range(4))
    assert r.status_code == 429 and "max_alerts_per_tenant" in r.json() and "1 of 4" in r.json()
    assert held() == 3
    assert post("initech-op", range(3)).status_code == 200, "updates of held alerts are accepted"
    assert post("admin", range(3, 4)).status_code == 200, "foundation senders only meet max_alerts"
    ok = [{"labels": {"alertname": "Mine", "org": "acme", "space": "prod"}}]
    assert world.client.post("/api/v2/alerts", json=ok, headers=world.auth("a-op")).status_code == 200
    assert held() == 4
    now = world.clock().isoformat()
    assert post("initech-op", range(3), endsAt=now).status_code == 200
    assert post("admin", range(3, 4), endsAt=now).status_code == 200
    ok[0]["endsAt"] = now  # type: ignore[assignment]
    assert world.client.post("/api/v2/alerts", json=ok, headers=world.auth("a-op")).status_code == 200
    assert held() == 0


def test_a_tenant_cannot_fill_the_silences_for_the_others(world: World) -> None:
    made = [world.silence("initech-op", _eq("alertname", f"S{i}")) for i in range(3)]
    assert [r.status_code for r in made] == [200, 200, 200], [r.text for r in made]
    before = {s["id"] for s in world.get("admin", "/silences")}
    over = world.silence("initech-op", _eq("alertname", "S3"))
    assert over.status_code == 429 and "max_silences_per_tenant" in over.json(), over.text
    assert {s["id"] for s in world.get("admin", "/silences")} == before  # nothing was stored
    # the quiet tenant still silences its own alerts
    quiet = world.silence("a-op", _eq("alertname", "Quiet"))
    assert quiet.status_code == 200, quiet.text
    # an update of a held silence is accepted; an expired one frees its slot
    first = made[0].json()["silenceID"]
    assert world.silence("initech-op", _eq("alertname", "S0"), sid=first).status_code == 200
    assert (
        world.client.delete(f"/api/v2/silence/{first}", headers=world.auth("initech-op")).status_code == 200
    )
    again = world.silence("initech-op", _eq("alertname", "S3"))
    assert again.status_code == 200, again.text
    # at the limit again: "updating" the expired one would be a new silence, and is refused as one
    revived = world.silence("initech-op", _eq("alertname", "S4"), sid=first)
    assert revived.status_code == 429, revived.text
    for sid in (
        quiet.json()["silenceID"],
        again.json()["silenceID"],
        *(r.json()["silenceID"] for r in made[1:]),
    ):
        world.client.delete(f"/api/v2/silence/{sid}", headers=world.auth("admin"))
