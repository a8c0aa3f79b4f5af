"""``paramedic policy backtest`` shows the platform's own events of the apps it acted on (from a test
EventSource) on its replay timeline, between the decisions; a failing platform leaves a note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded.store import EmbeddedStore
from metrics_store.model import labels_from
from platforms.base import PlatformEvent
from remediation.config import Policy
from remediation.policy.replay import BacktestReport, BacktestRequest, HistorySource, backtest_history
from tests.support.event_source import RecordedEvents

START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
T0 = START.timestamp()
RULES = """
groups:
  - name: local
    rules:
      - alert: LocalInstanceDown
        expr: up{job="app"} == 0
        for: 1m
"""
EVENTS = [
    PlatformEvent(T0 + 60, "checkout", "deployment", "audit.app.deployment.create", "revision 7", "ci"),
    PlatformEvent(T0 + 330, "checkout", "crash", "audit.app.process.crash", "exited 137", "", {"index": "1"}),
    PlatformEvent(T0 + 340, "other-tenant", "crash", "audit.app.process.crash", "tenant-b-secret"),
    PlatformEvent(T0 + 3 * 3600, "checkout", "restart", "audit.app.restart", "outside the window"),
]  # fmt: skip


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, EmbeddedStoreConfig]:
    """up of checkout/1, down from minute 5 to 10 of a 20 minute history."""
    base = tmp_path_factory.mktemp("backtest")
    cfg = EmbeddedStoreConfig(path=str(base / "metrics"))
    store = EmbeddedStore(base / "metrics", cfg, registry=CollectorRegistry(), background=False)
    try:
        ref = store.series_ref(
            labels_from({"__name__": "up", "job": "app", "app": "checkout", "app_instance": "1"})
        )
        ts = [int((START + timedelta(seconds=15 * k)).timestamp() * 1000) for k in range(81)]
        store.append([ref] * len(ts), ts, [0.0 if 20 <= k < 40 else 1.0 for k in range(81)])
    finally:
        store.close()
    (base / "rules.yaml").write_text(RULES)
    return base, cfg


def _run(history: tuple[Path, EmbeddedStoreConfig], source: RecordedEvents) -> BacktestReport:
    base, cfg = history
    policy = Policy.model_validate(
        {
            "name": "restart-hung-instance",
            "trigger": {"matchers": ['alertname="LocalInstanceDown"']},
            "target": {"app_label": "app", "instance_label": "app_instance"},
            "action": {"type": "restart_instance"},
        }
    )
    request = BacktestRequest(
        policies=[policy],
        rule_files=[str(base / "rules.yaml")],
        source=HistorySource(store=cfg, base_dir=base),
        window_s=20 * 60,
        interval_s=15,
        events=source,
    )
    return backtest_history(request, now=lambda: START + timedelta(minutes=20))


def test_replay_timeline_shows_platform_events_between_decisions(
    history: tuple[Path, EmbeddedStoreConfig],
) -> None:
    source = RecordedEvents(EVENTS, leaky=True)
    report = _run(history, source)
    rows = report.rows()
    actions = [row[4] for row in rows]
    assert actions == ["platform: deployment", "platform: crash", "restart_instance"]
    assert [row[0] for row in rows] == sorted(row[0] for row in rows)
    assert rows[1][5] == "checkout" and rows[1][7] == "exited 137"
    assert rows[0][7] == "revision 7 (by ci)"
    assert "tenant-b-secret" not in str(rows)
    assert not report.notes
    assert [call[0] for call in source.calls] == ["checkout"]  # only the app acted on


def test_failing_platform_leaves_the_replay_and_a_note(history: tuple[Path, EmbeddedStoreConfig]) -> None:
    report = _run(history, RecordedEvents(EVENTS, fail=True))
    assert [row[4] for row in report.rows()] == ["restart_instance"]
    [note] = report.notes
    assert note.startswith("checkout: platform events unavailable") and "503" in note
