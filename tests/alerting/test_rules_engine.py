"""Rule manager, alert state machine, sending and restart, with an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from alerting.model import Alert
from alerting.rules import AlertState, RuleManager, RuleOptions
from metrics_store.memory import MemoryStore
from metrics_store.model import Matcher, MatchOp, labels_from
from metrics_store.promql import Engine


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[Alert]] = []

    def put(self, alerts: Sequence[Alert]) -> None:
        self.batches.append(list(alerts))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


RULES = """
groups:
  - name: g
    interval: 10s
    rules:
      - alert: Down
        expr: up == 0
        for: 30s
        keep_firing_for: 20s
        labels: {severity: page}
        annotations: {summary: '{{ $labels.instance }} down ({{ $value }})'}
"""


def _setup(tmp_path: Path, rules: str = RULES, state: Path | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "r.yml"
    path.write_text(rules)
    store, clock, sink = MemoryStore(), Clock(), Sink()
    registry = CollectorRegistry()
    mgr = RuleManager(
        [str(path)], Engine(store, registry=registry), store, sink, clock, registry,
        options=RuleOptions(resend_delay_s=60, state_path=state, external_labels={"cluster": "eu"},
                            external_url="http://paramedic:9300"),
    )  # fmt: skip
    return mgr, store, clock, sink, registry


def _up(store: MemoryStore, values: dict[int, float], instance: str = "a") -> None:
    ref = store.series_ref(labels_from({"__name__": "up", "instance": instance}))
    store.append([ref] * len(values), [t * 1000 for t in values], list(values.values()))


def _run(mgr: RuleManager, clock: Clock, until_s: int, step_s: int = 10, start_s: int = 0) -> None:
    for t in range(start_s, until_s + 1, step_s):
        clock.now = t
        mgr.eval_due()


def _state(mgr: RuleManager) -> AlertState | None:
    (rule,) = mgr.groups[0].alerting_rules()
    return next(iter(rule.active.values())).state if rule.active else None


def test_pending_firing_keep_firing_resolved_and_sent(tmp_path: Path) -> None:
    mgr, store, clock, sink, registry = _setup(tmp_path)
    _up(store, {t: (0.0 if 20 <= t <= 100 else 1.0) for t in range(0, 400, 10)})
    _run(mgr, clock, 40)
    assert _state(mgr) is AlertState.PENDING and not sink.batches  # pending alerts are never sent
    _run(mgr, clock, 50, start_s=50)
    assert _state(mgr) is AlertState.FIRING  # active since 20s, for 30s
    (alert,) = sink.batches[-1]
    assert alert.labels == {"alertname": "Down", "instance": "a", "severity": "page", "cluster": "eu"}
    assert alert.annotations == {"summary": "a down (0)"}
    assert alert.starts_at == datetime.fromtimestamp(50, UTC)
    assert alert.ends_at == datetime.fromtimestamp(50 + 4 * 60, UTC)  # valid_until = 4 x resend_delay
    assert alert.generator_url.startswith("http://paramedic:9300/graph?g0.expr=up+%3D%3D+0")
    n = len(sink.batches)
    _run(mgr, clock, 100, start_s=60)
    assert len(sink.batches) == n  # resent only after resend_delay
    _run(mgr, clock, 120, start_s=110)
    assert _state(mgr) is AlertState.FIRING  # keep_firing_for 20s: 110 and 120 still firing
    assert len(sink.batches) == n + 1  # 120 > 50 + 60: resend
    _run(mgr, clock, 130, start_s=130)
    assert _state(mgr) is AlertState.INACTIVE
    (resolved,) = sink.batches[-1]
    assert resolved.ends_at == datetime.fromtimestamp(130, UTC)
    assert resolved.status(datetime.fromtimestamp(131, UTC)) == "resolved"
    _run(mgr, clock, 130 + 15 * 60, start_s=140)
    assert _state(mgr) is AlertState.INACTIVE  # kept 15m to be re-sent as resolved
    _run(mgr, clock, 130 + 15 * 60 + 10, start_s=130 + 15 * 60 + 10)
    assert _state(mgr) is None
    assert registry.get_sample_value("paramedic_rule_evaluations_total", {"rule_group": "g"}) > 0
    assert registry.get_sample_value("paramedic_alerts", {"rule_group": "g", "state": "firing"}) == 0


def test_alerts_and_for_state_series_written(tmp_path: Path) -> None:
    mgr, store, clock, _, _ = _setup(tmp_path)
    _up(store, {t: 0.0 for t in range(0, 100, 10)})
    _run(mgr, clock, 60)
    alerts = store.select([Matcher("__name__", MatchOp.EQ, "ALERTS")], 0, 60_000)
    states = {dict(s.labels)["alertstate"] for s in alerts}
    assert states == {"pending", "firing"}
    (fs,) = store.select([Matcher("__name__", MatchOp.EQ, "ALERTS_FOR_STATE")], 0, 60_000)
    assert set(fs.values.tolist()) == {0.0}  # active_at in seconds
    # pending series became stale when the alert fired
    pend = next(s for s in alerts if dict(s.labels)["alertstate"] == "pending")
    assert pend.timestamps_ms[-1] == 30_000


def test_state_survives_restart_like_prometheus_for_state(tmp_path: Path) -> None:
    rules = RULES.replace("for: 30s", "for: 20m")
    state = tmp_path / "state.json"
    mgr, store, clock, _, _ = _setup(tmp_path, rules, state)
    _up(store, {t: 0.0 for t in range(0, 3600, 10)})
    _run(mgr, clock, 900)  # pending for 15m of 20m
    assert _state(mgr) is AlertState.PENDING
    assert state.exists()
    # restart 2 minutes later: remaining 5m >= grace period 10m? no -> active_at so that 10m grace is left
    mgr2 = RuleManager([str(tmp_path / "r.yml")], Engine(store, registry=CollectorRegistry()), store, None,
                       clock, CollectorRegistry(), options=RuleOptions(state_path=state))  # fmt: skip
    clock.now = 1020
    mgr2.eval_due()
    (rule,) = mgr2.groups[0].alerting_rules()
    (a,) = rule.active.values()
    assert a.active_at_ms == 1020_000 + 600_000 - 1_200_000
    _run(mgr2, clock, 1610, start_s=1030)
    assert _state(mgr2) is AlertState.PENDING
    _run(mgr2, clock, 1620, start_s=1620)
    assert _state(mgr2) is AlertState.FIRING


def test_restore_moves_active_at_by_the_outage(tmp_path: Path) -> None:
    rules = RULES.replace("for: 30s", "for: 1h")
    state = tmp_path / "state.json"
    mgr, store, clock, _, _ = _setup(tmp_path, rules, state)
    _up(store, {t: 0.0 for t in range(0, 7200, 10)})
    _run(mgr, clock, 600)  # 10m of 1h pending; 50m left (> grace)
    mgr2 = RuleManager([str(tmp_path / "r.yml")], Engine(store, registry=CollectorRegistry()), store, None,
                       clock, CollectorRegistry(), options=RuleOptions(state_path=state))  # fmt: skip
    clock.now = 900  # down for 5m
    mgr2.eval_due()
    (a,) = mgr2.groups[0].alerting_rules()[0].active.values()
    assert a.active_at_ms == 300_000  # 0 + 5m outage


@pytest.mark.parametrize("state_file", ["none", "without-the-group"])
def test_restore_from_alerts_for_state_without_a_state_file(tmp_path: Path, state_file: str) -> None:
    rules = RULES.replace("for: 30s", "for: 1h")
    mgr, store, clock, _, _ = _setup(tmp_path, rules)  # no state file: only the store remembers
    _up(store, {t: 0.0 for t in range(0, 7200, 10)})
    _run(mgr, clock, 600)  # 10m of 1h pending; ALERTS_FOR_STATE = 0 written every 10 s until 600 s
    state = None
    if state_file == "without-the-group":
        state = tmp_path / "state.json"
        state.write_text('{"version": 1, "saved_at_ms": 600000, "groups": {"other.yml;x": {}}}')
    mgr2 = RuleManager([str(tmp_path / "r.yml")], Engine(store, registry=CollectorRegistry()), store, None,
                       clock, CollectorRegistry(), options=RuleOptions(state_path=state))  # fmt: skip
    clock.now = 900  # down for 5m after the last ALERTS_FOR_STATE sample
    mgr2.eval_due()
    (a,) = mgr2.groups[0].alerting_rules()[0].active.values()
    assert a.active_at_ms == 300_000  # 0 + 5m outage, as with the state file
    assert a.state is AlertState.PENDING
    _run(mgr2, clock, 3900, start_s=910)
    assert _state(mgr2) is AlertState.FIRING  # 1h after the restored active_at, not after the restart


def test_restore_from_the_store_ignores_an_outage_beyond_the_tolerance(tmp_path: Path) -> None:
    rules = RULES.replace("for: 30s", "for: 1h")
    mgr, store, clock, _, _ = _setup(tmp_path, rules)
    _up(store, {t: 0.0 for t in range(0, 3 * 3600, 10)})
    _run(mgr, clock, 600)
    mgr2 = RuleManager([str(tmp_path / "r.yml")], Engine(store, registry=CollectorRegistry()), store, None,
                       clock, CollectorRegistry())  # fmt: skip
    clock.now = 600 + 3600 + 60  # 1h1m later: beyond the 1h outage tolerance
    mgr2.eval_due()
    (a,) = mgr2.groups[0].alerting_rules()[0].active.values()
    assert a.active_at_ms == 4260_000  # starts over


def test_reload_keeps_state(tmp_path: Path) -> None:
    mgr, store, clock, _, _ = _setup(tmp_path)
    _up(store, {t: 0.0 for t in range(0, 200, 10)})
    _run(mgr, clock, 60)
    asyncio.run(mgr.apply_config([str(tmp_path / "r.yml")]))
    assert _state(mgr) is AlertState.FIRING


def test_recording_rules_write_back_and_chain(tmp_path: Path) -> None:
    rules = """
groups:
  - name: rec
    interval: 10s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {source: rule}
      - alert: FewUp
        expr: job:up:sum < 2
"""
    mgr, store, clock, _, _ = _setup(tmp_path, rules)
    ref = store.series_ref(labels_from({"__name__": "up", "job": "x", "instance": "a"}))
    store.append([ref] * 5, [0, 10_000, 20_000, 30_000, 40_000], [1.0] * 5)
    _run(mgr, clock, 20)
    (s,) = store.select([Matcher("__name__", MatchOp.EQ, "job:up:sum")], 0, 20_000)
    assert dict(s.labels) == {"__name__": "job:up:sum", "job": "x", "source": "rule"}
    assert s.values.tolist() == [1.0, 1.0, 1.0]
    assert _state(mgr) is AlertState.FIRING  # same-cycle result of the recording rule


def test_duplicate_labelsets_fail_the_rule_not_the_group(tmp_path: Path) -> None:
    rules = """
groups:
  - name: dup
    interval: 10s
    rules:
      - alert: Dup
        expr: up
        labels: {instance: same}
      - alert: Fine
        expr: vector(1)
"""
    mgr, store, clock, _, registry = _setup(tmp_path, rules)
    _up(store, {0: 1.0}, "a")
    _up(store, {0: 1.0}, "b")
    _run(mgr, clock, 0)
    dup, fine = mgr.groups[0].alerting_rules()
    assert "same labelset" in str(dup.last_error)
    assert fine.firing()
    assert registry.get_sample_value("paramedic_rule_evaluation_failures_total", {"rule_group": "dup"}) == 1


@pytest.mark.asyncio
async def test_start_stop_saves_state(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    mgr, _, clock, _, _ = _setup(tmp_path, state=state)
    clock.now = 5.0
    await mgr.start()
    await mgr.stop()
    assert state.exists()
