from __future__ import annotations

import asyncio
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
