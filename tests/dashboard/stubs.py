"""Stub readers for the dashboard's pages: fixed data, optionally hostile label values."""

from __future__ import annotations

import time
from typing import Any

from dashboard.base import InstanceInfo, InstantSample, RangeSeries, ReaderError, Sources

EVIL = "<script>alert(1)</script>"


class StubMetrics:
    def __init__(self, app: str = "checkout", *, fail: bool = False) -> None:
        self.app = app
        self.fail = fail
        self.queries: list[str] = []

    def instant(self, expr: str) -> list[InstantSample]:
        self.queries.append(expr)
        if self.fail:
            raise ReaderError("store unavailable")
        if "by (app)" in expr:
            return [InstantSample({"app": self.app}, 12.5)]
        return [InstantSample({}, 42.0)]

    def range(self, expr: str, start_s: float, end_s: float, step_s: float) -> list[RangeSeries]:
        self.queries.append(expr)
        if self.fail:
            raise ReaderError("store unavailable")
        ts = [start_s + i * step_s for i in range(int((end_s - start_s) // step_s) + 1)]
        if expr.startswith("ALERTS"):
            return [RangeSeries({"alertname": EVIL, "app": self.app}, ts[-3:], [1.0] * 3)]
        return [RangeSeries({}, ts, [float(i) for i in range(len(ts))])]


class StubAlerts:
    def firing(self) -> list[dict[str, Any]]:
        return [
            {
                "labels": {"alertname": "AppInstanceDown", "app": EVIL, "severity": "critical"},
                "annotations": {"summary": f"summary {EVIL}"},
                "starts_at": time.time() - 90,
                "state": "active",
            }
        ]


class StubActions:
    def recent(
        self, *, app: str | None = None, since_s: float | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        now = time.time()
        return [
            {
                "id": "a1",
                "action": "restart_instance",
                "deployment": False,
                "target": f"{EVIL}/0",
                "app": EVIL,
                "status": "succeeded",
                "policy": "restart-down",
                "mode": "live",
                "created_at": now - 60,
                "updated_at": now - 30,
            },
            {
                "id": "a2",
                "action": "rollback",
                "deployment": True,
                "target": "checkout",
                "app": "checkout",
                "status": "succeeded",
                "policy": "rollback-errors",
                "mode": "live",
                "created_at": now - 30,
                "updated_at": now - 10,
            },
        ][:limit]


class StubPlatform:
    def __init__(self, apps: list[str]) -> None:
        self._apps = apps

    def apps(self) -> list[str]:
        return list(self._apps)

    def instances(self, app: str) -> list[InstanceInfo]:
        return [
            InstanceInfo(app, 0, "RUNNING", "v1", {"host": EVIL}),
            InstanceInfo(app, 1, "CRASHED", "v1"),
        ]


def stub_sources(app: str = "checkout") -> Sources:
    return Sources(
        metrics=StubMetrics(app), alerts=StubAlerts(), actions=StubActions(), platform=StubPlatform([app])
    )
