"""``alerting.limits.max_alerts``: at most that many active alerts; the rest refused, counted, logged and
answered 429 by ``POST /api/v2/alerts``; listing many alerts stays linear (issue 11, finding 11)."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from alerting.am_api import AlertmanagerHandlers, am_router
from alerting.dispatch import Dispatcher, parse_config
from alerting.dispatch._inhibit import InhibitRule, inhibited_by
from alerting.dispatch._store import stored_from_alert
from tests.alerting._dispatch_support import Clock, Recorders, alert, no_retry

LIMITED = """
global: {resolve_timeout: 1d}
limits: {max_alerts: 3}
route: {receiver: team, group_by: [alertname], group_wait: 30s}
receivers:
  - name: team
    notifiers: [{type: test, name: default}]
"""


def make(text: str = LIMITED) -> tuple[Dispatcher, Clock, CollectorRegistry]:
    clock, registry = Clock(), CollectorRegistry()
    d = Dispatcher(parse_config(text), Recorders(), clock=clock, registry=registry, deliver=no_retry)
    return d, clock, registry


def refused(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("paramedic_alerting_alerts_refused_total", {"reason": "max_alerts"})


def test_default_limit_is_ten_thousand() -> None:
    cfg = parse_config("route: {receiver: a}\nreceivers: [{name: a}]\n")
    assert cfg.limits.max_alerts == 10_000


def test_new_alerts_beyond_the_limit_are_refused_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    d, clock, registry = make()
    with caplog.at_level(logging.WARNING, logger="alerting.dispatch.dispatcher"):
        assert d.accept([alert(alertname=f"A{i}") for i in range(5)]) == 2
    assert {v.alert.labels["alertname"] for v in d.alerts()} == {"A0", "A1", "A2"}  # the first three
    assert refused(registry) == 2
    (record,) = [r for r in caplog.records if "refused" in r.getMessage()]
    assert "refused 2 of 5 alerts" in record.getMessage()
    assert "alerting.limits.max_alerts" in record.getMessage()
    # updates of active alerts (a new annotation, resolving) still go through at the limit
    update = replace(alert(alertname="A1"), annotations={"summary": "changed"})
    assert d.accept([update]) == 0
    assert d.accept([replace(alert(alertname="A0"), ends_at=clock())]) == 0
    clock.advance(1)
    # one slot free again: one new alert fits, the next does not
    assert d.accept([alert(alertname="B0"), alert(alertname="B1")]) == 1
    assert len(d.alerts()) == 3
    assert refused(registry) == 3


def test_the_rule_engines_put_is_limited_too() -> None:
    d, _, registry = make()
    d.put([alert(alertname=f"R{i}") for i in range(4)])
    assert len(d.alerts()) == 3 and refused(registry) == 1


def test_reload_changes_the_limit() -> None:
    d, _, _ = make()
    d.apply_config(parse_config(LIMITED.replace("max_alerts: 3", "max_alerts: 5")))
    assert d.accept([alert(alertname=f"A{i}") for i in range(6)]) == 1


def test_silences_beyond_max_silences_are_refused_with_429() -> None:
    d, clock, registry = make(LIMITED.replace("max_alerts: 3", "max_silences: 2"))
    assert parse_config("route: {receiver: a}\nreceivers: [{name: a}]\n").limits.max_silences == 10_000
    app = FastAPI()
    app.include_router(am_router(d))
    client = TestClient(app)

    def silence(name: str, sid: str = "") -> Any:
        body: dict[str, Any] = {
            "matchers": [{"name": "alertname", "value": name, "isRegex": False, "isEqual": True}],
            "startsAt": clock().isoformat(),
            "endsAt": (clock() + timedelta(hours=1)).isoformat(),
            "createdBy": "t",
            "comment": "t",
        }
        return client.post("/api/v2/silences", json=body | ({"id": sid} if sid else {}))

    made = [silence("S0"), silence("S1")]
    assert [r.status_code for r in made] == [200, 200]
    over = silence("S2")
    assert over.status_code == 429 and "alerting.limits.max_silences" in over.json(), over.text
    assert len(client.get("/api/v2/silences").json()) == 2  # nothing was stored
    assert (
        registry.get_sample_value("paramedic_alerting_silences_refused_total", {"reason": "max_silences"})
        == 1
    )
    first = made[0].json()["silenceID"]
    assert silence("S0", sid=first).status_code == 200  # updating a held silence is still accepted
    assert client.delete(f"/api/v2/silence/{first}").status_code == 200  # an expired one frees its slot
    assert silence("S2").status_code == 200


def test_post_alerts_answers_429_naming_the_limit() -> None:
    d, _, registry = make()
    app = FastAPI()
    app.include_router(am_router(d))
    client = TestClient(app)
    batch = [{"labels": {"alertname": f"P{i}"}} for i in range(4)]
    r = client.post("/api/v2/alerts", json=batch)
    assert r.status_code == 429
    assert "1 of 4 alerts refused" in r.json() and "alerting.limits.max_alerts" in r.json()
    assert len(client.get("/api/v2/alerts").json()) == 3
    assert client.post("/api/v2/alerts", json=batch[:3]).status_code == 200  # updates only
    assert client.post("/api/v2/alerts", content=b"{not json").status_code == 400
    assert refused(registry) == 1


def test_ingest_handler_is_callable_without_a_router() -> None:
    """AlertmanagerHandlers.ingest (what POST /api/v2/alerts runs in a worker thread) takes the raw body."""
    d, _, _ = make()
    handlers = AlertmanagerHandlers(d)
    ok = handlers.ingest(b'[{"labels": {"alertname": "H0"}}]')
    assert ok.status_code == 200 and [v.alert.labels["alertname"] for v in d.alerts()] == ["H0"]
    bad = handlers.ingest(b'[{"labels": {"0bad": "x"}}, {"labels": {}}]')
    assert bad.status_code == 400
    assert (
        bytes(bad.body)
        == b"\"alert 0: invalid label name '0bad'; alert 1: at least one label pair required\""
    )


def test_a_batch_of_many_invalid_alerts_names_the_first_ten_and_counts_the_rest() -> None:
    """2.5 million ``{}`` (7.5 MB) used to be answered with every error listed: 76 MB, 10x the request."""
    handlers = AlertmanagerHandlers(make()[0])
    body = b"[" + b",".join([b"{}"] * 100_000) + b',{"labels": {"' + b"x-" * 10_000 + b'": "v"}}]'
    bad = handlers.ingest(body)
    assert bad.status_code == 400
    text = bytes(bad.body).decode()
    assert text.startswith('"alert 0: Field required; alert 1: Field required;')
    assert "alert 9: Field required; and 99991 more invalid alerts" in text
    assert "alert 10:" not in text and len(text) < 1000
    long_name = handlers.ingest(b'[{"labels": {"' + b"x-" * 10_000 + b'": "v"}}]')  # echoed cut at 200
    assert bytes(long_name.body).decode().startswith("\"alert 0: invalid label name 'x-x-")
    assert len(long_name.body) < 300


def test_listing_many_alerts_with_inhibit_rules_is_linear() -> None:
    """Each alert's state used to scan every stored alert (21,000 alerts: 60 s); now one index per listing."""
    text = (
        LIMITED.replace("max_alerts: 3", "max_alerts: 20000")
        + """
inhibit_rules:
  - {source_matchers: [severity=critical], target_matchers: [severity=warning], equal: [cluster]}
"""
    )
    d, _, _ = make(text)
    n = 20_000
    d.put([alert(alertname="W", severity="warning", cluster=str(i), n=str(i)) for i in range(n - 10)])
    d.put([alert(alertname="C", severity="critical", cluster=str(i)) for i in range(10)])
    started = time.thread_time()  # CPU time of this thread: the machine's load does not count
    views = d.alerts()
    groups = d.groups()
    elapsed = time.thread_time() - started
    assert len(views) == n and sum(len(g.alerts) for g in groups) == n
    assert sum(1 for v in views if v.status.inhibited_by) == 10
    assert elapsed < 10, elapsed  # quadratic: 400 million label comparisons, minutes


def test_index_agrees_with_the_definition() -> None:
    """Two-sided rules: an alert never inhibits itself; the first firing source wins."""
    (rule_cfg,) = parse_config(
        LIMITED + "inhibit_rules: [{source_matchers: [x=~.+], target_matchers: [x=~.+], equal: [c]}]\n"
    ).inhibit_rules
    rule = InhibitRule.from_config(rule_cfg)
    clock = Clock()
    alerts = [stored_from_alert(alert(x="1", c="a", i=str(i)), clock(), timedelta(days=1)) for i in range(3)]
    assert inhibited_by([rule], {"x": "1", "c": "a"}, alerts, clock()) == []
    assert inhibited_by([rule], {"y": "1", "c": "a"}, alerts, clock()) == []
    (one_sided_cfg,) = parse_config(
        LIMITED + "inhibit_rules: [{source_matchers: [x=~.+], target_matchers: [t=1], equal: [c]}]\n"
    ).inhibit_rules
    one_sided = InhibitRule.from_config(one_sided_cfg)
    resolved = replace(alerts[0], ends_at=clock())
    rest = [resolved, *alerts[1:]]
    assert inhibited_by([one_sided], {"t": "1", "c": "a"}, rest, clock()) == [alerts[1].fingerprint]
    assert inhibited_by([one_sided], {"t": "1", "c": "b"}, rest, clock()) == []
