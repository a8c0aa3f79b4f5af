"""The Capacity page in a real browser (Debian's Chromium via Playwright): figures, cells and the trend draw,
with no console error or CSP violation (screenshot: test-screenshots/capacity.png); and `paramedic capacity
report --url` against the same running server."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from dashboard import Sources, dashboard_router
from metrics_store.memory import MemoryStore
from paramedic.cli import app as cli
from paramedic.dashboard import PromqlMetricsReader
from platforms.capacity import CapacityService, capacity_router
from tests.platforms.capacity.history import write_cf
from tests.support.browser import chromium, screenshot, watch
from tests.support.servers import served_in_thread


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    store, now = MemoryStore(), time.time()
    write_cf(store, now)
    service = CapacityService(store, clock=lambda: now, registry=CollectorRegistry())
    app = FastAPI()
    app.include_router(capacity_router(service))
    app.include_router(
        dashboard_router(Sources(metrics=PromqlMetricsReader(store)), capacity=service.outlook_json)
    )
    with served_in_thread(app, lifespan="off", timeout_s=20, name="capacity-test-server") as base:
        yield base


def test_the_capacity_page_renders_in_chromium(url: str) -> None:
    with chromium() as context:
        page: Any = context.new_page()
        w = watch(page)
        page.goto(url + "/capacity")
        assert page.locator("#kpi-chunks .kpi-value").inner_text() == "14"
        assert page.locator("#cells tbody tr").count() == 3
        assert page.locator("#capacity-trend polyline").count() == 1
        assert "3 more cell(s) needed" in page.locator("#capacity-summary").inner_text()
        assert page.locator('nav a[href="/capacity"]').get_attribute("aria-current") == "page"
        screenshot(page, "capacity")
        problems = w.problems(page)
        assert problems == [], "\n".join(problems)


def test_the_report_command_reads_a_running_server(url: str, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("unused-here\n")  # the test server has no auth: the header is sent and ignored
    out = CliRunner().invoke(cli, ["capacity", "report", "--url", url, "--token-file", str(token)])
    assert out.exit_code == 0, out.output
    assert re.search(r"^diego-cell/0\s+8,192\s+5,100\s+3\b", out.output, re.M), out.output
    down = CliRunner().invoke(cli, ["capacity", "report", "--url", "http://127.0.0.1:9"])
    assert down.exit_code == 1
