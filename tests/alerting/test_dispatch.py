"""Dispatcher semantics with a driven clock: grouping/timing, routing, inhibition, silences, mute windows,
acks, truncation and restarts."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from alerting.dispatch import Dispatcher, parse_config, parse_matchers
from alerting.dispatch._route import build_route
from tests.alerting._dispatch_support import T0, Clock, Recorders, alert, no_retry

BASIC = """
global: {resolve_timeout: 1d}
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: team
    notifiers: [{type: test, name: default}]
"""


def make(
    text: str = BASIC, tmp: Path | None = None, clock: Clock | None = None
) -> tuple[Dispatcher, Clock, Recorders]:
    clock = clock or Clock()
    rec = Recorders()
    d = Dispatcher(
        parse_config(text), rec, data_dir=tmp, clock=clock, registry=CollectorRegistry(), deliver=no_retry
    )
    return d, clock, rec


async def step(d: Dispatcher, clock: Clock, seconds: float) -> None:
    clock.advance(seconds)
    await d.flush_due()


async def test_group_wait_interval_repeat_and_resolve() -> None:
    d, clock, rec = make()
    d.put([alert(alertname="A", instance="1")])
    await step(d, clock, 29)
    assert rec.sent() == []
    await step(d, clock, 1)  # group_wait
    (n,) = rec.sent()
    assert (
        n.group_key == '{}:{alertname="A"}' and n.status == "firing" and n.group_labels == {"alertname": "A"}
    )
    d.put([alert(alertname="A", instance="2")])  # joins the group: waits for group_interval
    await step(d, clock, 60)
    assert len(rec.sent()) == 1
    await step(d, clock, 240)
    assert len(rec.sent()) == 2 and len(rec.sent()[-1].alerts) == 2
    for _ in range(48):  # nothing new: silent until the first tick after repeat_interval (4h)
        await step(d, clock, 300)
    assert len(rec.sent()) == 2
    await step(d, clock, 300)
    assert len(rec.sent()) == 3
    d.put([replace(alert(alertname="A", instance="1"), ends_at=clock())])
    await step(d, clock, 300)
    last = rec.sent()[-1]
    assert len(rec.sent()) == 4 and [a.status(clock()) for a in last.alerts] == ["resolved", "firing"]
    assert last.alerts[1].ends_at is None  # a firing alert's end time is not exposed


async def test_old_alert_flushes_immediately_and_resolve_timeout() -> None:
    d, clock, rec = make(BASIC.replace("1d", "1m"))
    d.put([replace(alert(alertname="A"), starts_at=T0.replace(hour=4))])
    await d.flush_due()
    assert len(rec.sent()) == 1
    await step(d, clock, 300)  # no update for 5m: resolved by resolve_timeout
    assert rec.sent()[-1].status == "resolved"
    assert d.alerts() == []


ROUTING = """
global: {resolve_timeout: 1d}
route:
  receiver: default-receiver
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  group_by: [cluster, alertname]
  routes:
  - receiver: database-pager
    group_wait: 10s
    matchers: ['service=~"mysql|cassandra"']
  - receiver: frontend-pager
    group_by: [product, environment]
    matchers: ['team="frontend"']
  - receiver: dev-pager
    matchers: ['service="inhouse-service"']
    mute_time_intervals: [offhours]
    continue: true
  - receiver: on-call-pager
    matchers: ['service="inhouse-service"']
    active_time_intervals: [offhours]
receivers:
  - {name: default-receiver}
  - {name: database-pager}
  - {name: frontend-pager}
  - {name: dev-pager}
  - {name: on-call-pager}
time_intervals:
  - name: offhours
    time_intervals: [{times: [{start_time: '00:00', end_time: '09:00'}]}]
"""


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"service": "mysql"}, ["database-pager"]),
        ({"service": "cassandra", "team": "frontend"}, ["database-pager"]),  # first match wins
        ({"team": "frontend", "product": "p"}, ["frontend-pager"]),
        ({"service": "inhouse-service"}, ["dev-pager", "on-call-pager"]),  # continue: true
        ({"service": "other"}, ["default-receiver"]),
    ],
)
def test_routing_tree_from_alertmanager_docs(labels: dict[str, str], receivers: list[str]) -> None:
    route = build_route(parse_config(ROUTING).route)
    assert [r.receiver for r in route.match(labels)] == receivers


def test_route_options_inherit() -> None:
    route = build_route(parse_config(ROUTING).route)
    db, fe = route.routes[0], route.routes[1]
    assert (db.group_wait, db.group_interval, db.group_by) == (10, 300, frozenset({"cluster", "alertname"}))
    assert fe.group_by == frozenset({"product", "environment"}) and fe.repeat_interval == 4 * 3600
    assert fe.group_labels({"product": "p", "x": "y"}) == {"product": "p"}


async def test_mute_window_then_renotify_when_it_ends() -> None:
    text = ROUTING.replace(
        "{name: dev-pager}", "{name: dev-pager, notifiers: [{type: t, name: dev}]}"
    ).replace("{name: on-call-pager}", "{name: on-call-pager, notifiers: [{type: t, name: oncall}]}")
    d, clock, rec = make(text, clock=Clock(T0.replace(hour=8, minute=58)))  # in offhours (to 09:00)
    d.put([alert(alertname="X", service="inhouse-service")])
    await step(d, clock, 30)
    assert rec.sent("dev") == [] and len(rec.sent("oncall")) == 1  # dev muted, on-call active
    await step(d, clock, 300)  # 09:03:30: window over, the next tick notifies dev
    assert len(rec.sent("dev")) == 1 and len(rec.sent("oncall")) == 1


INHIBIT = (
    BASIC.replace("group_by: [alertname]", "group_by: ['...']")
    + """
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [cluster]
"""
)


async def test_inhibition() -> None:
    d, clock, rec = make(INHIBIT)
    d.put(
        [
            alert(alertname="Disk", severity="warning", cluster="a"),
            alert(alertname="Disk", severity="warning", cluster="b"),
        ]
    )
    d.put([alert(alertname="Down", severity="critical", cluster="a")])
    await step(d, clock, 30)
    sent = {n.alerts[0].labels["alertname"] + n.alerts[0].labels["cluster"] for n in rec.sent()}
    assert sent == {"Diskb", "Downa"}
    (warn_a,) = [
        v
        for v in d.alerts()
        if v.alert.labels == {"alertname": "Disk", "severity": "warning", "cluster": "a"}
    ]
    assert warn_a.status.state == "suppressed" and len(warn_a.status.inhibited_by) == 1
    # the source resolves: the target is no longer inhibited and gets notified at the next tick
    d.put([replace(alert(alertname="Down", severity="critical", cluster="a"), ends_at=clock())])
    await step(d, clock, 300)
    assert any(n.alerts[0].labels == warn_a.alert.labels for n in rec.sent())


async def test_silence_mutes_until_expired() -> None:
    d, clock, rec = make()
    sid = d.silences.set(
        parse_matchers('alertname="A"'),
        starts_at=clock(),
        ends_at=clock().replace(hour=6),
        created_by="me",
        comment="maint",
    )
    d.put([alert(alertname="A"), alert(alertname="B")])
    await step(d, clock, 30)
    assert [n.group_labels for n in rec.sent()] == [{"alertname": "B"}]
    (a,) = [v for v in d.alerts() if v.alert.labels["alertname"] == "A"]
    assert a.status.silenced_by == [sid] and a.status.state == "suppressed"
    d.silences.expire(sid)
    assert d.silences.get(sid).state(clock()) == "expired"
    await step(d, clock, 300)
    assert [n.group_labels for n in rec.sent()] == [{"alertname": "B"}, {"alertname": "A"}]


def test_silence_states_and_updates(tmp_path: Path) -> None:
    d, clock, _ = make(tmp=tmp_path)
    s = d.silences
    ms = parse_matchers('job="x"')
    pending = s.set(
        ms, starts_at=clock().replace(hour=6), ends_at=clock().replace(hour=7), created_by="a", comment="c"
    )
    assert s.get(pending).state(clock()) == "pending"
    active = s.set(ms, starts_at=clock(), ends_at=clock().replace(hour=7), created_by="a", comment="c")
    assert (
        s.set(
            ms,
            starts_at=clock(),
            ends_at=clock().replace(hour=8),
            created_by="a",
            comment="d",
            silence_id=active,
        )
        == active
    )
    other = parse_matchers('job="y"')
    new = s.set(
        other,
        starts_at=clock(),
        ends_at=clock().replace(hour=8),
        created_by="a",
        comment="d",
        silence_id=active,
    )
    assert new != active and s.get(active).state(clock()) == "expired"
    with pytest.raises(Exception, match="in the past"):
        s.set(
            ms,
            starts_at=clock().replace(hour=1),
            ends_at=clock().replace(hour=2),
            created_by="a",
            comment="c",
        )
    with pytest.raises(Exception, match="empty string"):
        s.set(
            parse_matchers('job=~".*"'),
            starts_at=clock(),
            ends_at=clock().replace(hour=7),
            created_by="a",
            comment="c",
        )


async def test_ack_suppresses_repeats_until_the_group_changes() -> None:
    d, clock, rec = make()
    d.put([alert(alertname="A", i="1")])
    await step(d, clock, 30)
    assert d.ack_group('{}:{alertname="A"}') == 1
    for _ in range(60):  # 5h: past repeat_interval, but acked
        await step(d, clock, 300)
    assert len(rec.sent()) == 1
    d.put([alert(alertname="A", i="2")])  # the group changed: notify
    await step(d, clock, 300)
    assert len(rec.sent()) == 2


async def test_truncation_and_failures_retry_next_interval() -> None:
    text = BASIC.replace("name: default}", "name: default, max_alerts: 1}")
    d, clock, rec = make(text)
    d.put([alert(alertname="A", i=str(i)) for i in range(3)])
    clock.advance(30)
    rec({"name": "default"}).fail = True
    await d.flush_due()
    assert rec.sent() == []
    rec({"name": "default"}).fail = False
    await step(d, clock, 300)
    (n,) = rec.sent()
    assert len(n.alerts) == 1 and n.truncated_alerts == 2 and n.common_labels == {"alertname": "A", "i": "0"}


async def test_restart_keeps_silences_and_does_not_resend(tmp_path: Path) -> None:
    d, clock, rec = make(tmp=tmp_path)
    sid = d.silences.set(
        parse_matchers("alertname=B"),
        starts_at=clock(),
        ends_at=clock().replace(hour=9),
        created_by="me",
        comment="c",
    )
    d.put([alert(alertname="A")])
    await step(d, clock, 30)
    assert len(rec.sent()) == 1
    # restart: a new dispatcher on the same data dir; Prometheus re-sends the same alert
    d2, _, rec2 = make(tmp=tmp_path, clock=clock)
    assert d2.silences.get(sid).comment == "c"
    d2.put([alert(alertname="A"), alert(alertname="B")])
    for _ in range(3):
        await step(d2, clock, 300)
    assert rec2.sent() == []  # A already notified (log), B silenced
    assert [e.group_key for e in d2.notification_log()] == ['{}:{alertname="A"}']
    assert {"nflog.json", "silences.json"} <= {p.name for p in tmp_path.iterdir()}


async def test_run_loop_with_the_real_clock() -> None:
    rec = Recorders()
    d = Dispatcher(parse_config(BASIC.replace("30s", "0s").replace("5m", "1s")), rec, deliver=no_retry)
    task = asyncio.create_task(d.run(max_sleep_s=0.05))
    d.put([alert(alertname="A")])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not rec.sent() and loop.time() < deadline:
        await asyncio.sleep(0.01)
    d.stop()
    await asyncio.wait_for(task, 5)
    assert len(rec.sent()) == 1
