from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded.store import EmbeddedStore
from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from
from metrics_store.promql import Engine
from paramedic.cli import app
from platforms.local.loadgen import daily_shape
from remediation.config import Policy
from remediation.policy.backtest import run_backtest
from remediation.policy.replay import (
    BacktestError,
    BacktestRequest,
    HistorySource,
    backtest_history,
    select_policies,
)

START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
RULES = """
groups:
  - name: local
    rules:
      - alert: LocalInstanceDown
        expr: up{job="app"} == 0
        for: 1m
"""


def _fill(
    store: MemoryStore | EmbeddedStore, start: datetime, minutes: int, down: list[tuple[int, int]]
) -> None:
    """up for checkout/0 and checkout/1 every 15 s; instance 1 is down during each [from, to) minute range."""
    for idx in (0, 1):
        ref = store.series_ref(
            labels_from({"__name__": "up", "job": "app", "app": "checkout", "app_instance": str(idx)})
        )
        ts, vals = [], []
        for k in range(minutes * 4 + 1):
            t = start + timedelta(seconds=15 * k)
            m = k / 4
            is_down = idx == 1 and any(a <= m < b for a, b in down)
            ts.append(int(t.timestamp() * 1000))
            vals.append(0.0 if is_down else 1.0)
        store.append([ref] * len(ts), ts, vals)


def _policy() -> Policy:
    return Policy.model_validate(
        {
            "name": "restart-hung-instance",
            "trigger": {"matchers": ['alertname="LocalInstanceDown"']},
            "target": {"app_label": "app", "instance_label": "app_instance"},
            "action": {"type": "restart_instance"},
            "rails": {"cooldown": "30m"},
        }
    )


def test_two_outages_within_cooldown_one_action_one_deferral_that_expires(tmp_path: Path) -> None:
    store = MemoryStore()
    _fill(store, START, 40, down=[(5, 10), (15, 20)])
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    steps: list[int] = []
    result = asyncio.run(
        run_backtest(
            [_policy()],
            Engine(store, registry=CollectorRegistry()),
            [str(rules)],
            START,
            START + timedelta(minutes=40),
            interval_s=15,
            on_step=lambda done, total: steps.append(done),
        )
    )
    assert result.steps == 161 and steps[-1] == 161
    got = [(r.decision.decision, r.decision.rail, r.decision.target, r.mode) for r in result.rows]
    assert got == [
        ("executed", None, "checkout/1", "dry_run"),
        ("expired", "cooldown", "checkout/1", "dry_run"),  # deferred by the cooldown, resolved meanwhile
    ]
    first, second = result.rows
    assert START + timedelta(minutes=6) <= first.decision.at <= START + timedelta(minutes=7)
    assert START + timedelta(minutes=16) <= second.decision.at <= START + timedelta(minutes=17)
    assert first.alertname == "LocalInstanceDown"
    assert result.refusals_by_rail() == {"cooldown": 1}


def test_cli_backtest_over_embedded_store(tmp_path: Path) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=45)
    cfg = EmbeddedStoreConfig(path=str(tmp_path / "metrics"))
    store = EmbeddedStore(tmp_path / "metrics", cfg, registry=CollectorRegistry(), background=False)
    try:
        _fill(store, start, 40, down=[(5, 10), (15, 20)])
    finally:
        store.close()
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "policies.yaml").write_text(
        "policies:\n"
        "  - name: restart-hung-instance\n"
        "    trigger: {matchers: ['alertname=\"LocalInstanceDown\"']}\n"
        "    target: {app_label: app, instance_label: app_instance}\n"
        "    action: {type: restart_instance}\n"
        "    rails: {cooldown: 30m}\n"
    )
    (tmp_path / "paramedic.yaml").write_text(
        "metrics_store: {type: embedded, path: metrics}\n"
        "rules: {files: [rules.yaml], evaluation_interval_s: 15}\n"
    )
    res = CliRunner().invoke(
        app,
        ["policy", "backtest", "--since", "1h", "--config", str(tmp_path / "paramedic.yaml"),
         "--policies", str(tmp_path / "policies.yaml")],
        env={"COLUMNS": "250"},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "1 actions, refusals by rail: cooldown=1" in res.output
    assert "executed" in res.output and "expired" in res.output and "dry_run" in res.output


def test_backtest_history_over_an_embedded_store_reports_rows_and_summary(tmp_path: Path) -> None:
    """The package call behind the command: select_policies, then backtest_history -> BacktestReport."""
    cfg = EmbeddedStoreConfig(path=str(tmp_path / "metrics"))
    store = EmbeddedStore(tmp_path / "metrics", cfg, registry=CollectorRegistry(), background=False)
    try:
        _fill(store, START, 40, down=[(5, 10), (15, 20)])
    finally:
        store.close()
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "policies.yaml").write_text(
        "policies:\n  - " + _policy().model_dump_json(exclude_defaults=True) + "\n"
    )
    with pytest.raises(BacktestError, match="no policy named 'other'"):
        select_policies([tmp_path / "policies.yaml"], "other")
    request = BacktestRequest(
        policies=select_policies([tmp_path / "policies.yaml"], "restart-hung-instance"),
        rule_files=[str(tmp_path / "rules.yaml")],
        source=HistorySource(store=cfg, base_dir=tmp_path),
        window_s=40 * 60,
        interval_s=15,
    )
    report = backtest_history(request, now=lambda: START + timedelta(minutes=40))
    assert report.title == "Backtest 2024-03-01 12:00 .. 2024-03-01 12:40 UTC (161 steps)"
    assert [row[6] for row in report.rows()] == ["executed", "expired"]
    assert report.summary().endswith("1 actions, refusals by rail: cooldown=1")
    assert report.per_policy() == ["restart-hung-instance: 1 executed, 1 expired"]


PREDICTIVE_POLICY = """
policies:
  - name: web-ahead
    scope: {org: acme, space: prod}
    action: {type: scale, min_instances: 1, max_instances: 10}
    predictive:
      query: 'sum(load_rps{app="$app"})'
      apps: [web]
      capacity_per_instance: 10
      target_utilization: 0.5
      startup: 30s
      interval: 5s
      season: 5m
      history: 10m
"""


def _day_load(t: float) -> float:
    """A day compressed into 5 minutes (the demo's curve), 40 req/s at its peak."""
    return 40.0 * daily_shape((t % 300.0) / 300.0)


def test_cli_backtest_shows_forecast_against_actual_of_a_predictive_policy(tmp_path: Path) -> None:
    """``paramedic policy backtest`` on a predictive policy (issue 15): a table of forecast vs actual per step
    for each app and the forecast error, read from the config's store; a config without alert rules is
    enough (a predictive policy needs none)."""
    end = float(int(time.time()) // 5 * 5)
    cfg = EmbeddedStoreConfig(path=str(tmp_path / "metrics"))
    store = EmbeddedStore(tmp_path / "metrics", cfg, registry=CollectorRegistry(), background=False)
    times = [end - 5.0 * k for k in range(25 * 12, -1, -1)]  # 25 minutes: 5 compressed days
    try:
        for org, scale in (("acme", 1.0), ("globex", 10.0)):  # globex's web is another tenant's app
            ref = store.series_ref(
                labels_from({"__name__": "load_rps", "app": "web", "org": org, "space": "prod"})
            )
            store.append(
                [ref] * len(times), [int(t * 1000) for t in times], [scale * _day_load(t) for t in times]
            )
    finally:
        store.close()
    (tmp_path / "policies.yaml").write_text(PREDICTIVE_POLICY)
    (tmp_path / "paramedic.yaml").write_text("metrics_store: {type: embedded, path: metrics}\n")
    res = CliRunner().invoke(
        app,
        ["policy", "backtest", "--since", "10m", "--config", str(tmp_path / "paramedic.yaml"),
         "--policies", str(tmp_path / "policies.yaml")],
        env={"COLUMNS": "250"},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Predictive backtest web-ahead: web (forecast vs actual)" in res.output
    summary = re.search(
        r"web-ahead web: (\d+) steps, (\d+) forecasts 30s ahead .* error \(WAPE\) ([0-9.]+)", res.output
    )
    assert summary, res.output
    steps, forecasts, wape = int(summary[1]), int(summary[2]), float(summary[3])
    assert steps >= 10 * 12 and forecasts >= steps - 7  # every step but the first start-up has a forecast
    assert wape < 0.5  # the same day again: the learned model forecasts it (acme's load, not globex's)
    rows = [
        line.split("│")
        for line in res.output.splitlines()
        if line.count("│") >= 7 and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line)
    ]
    assert len(rows) == steps
    for row in rows:
        at = datetime.strptime(row[1].strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
        # the actual is acme's stored load at that time; a step after the last sample (the clock crossed a
        # step boundary between writing and the CLI's "now") shows the last sample, as a query would
        assert row[3].strip() == f"{_day_load(min(at, end)):.3g}"
