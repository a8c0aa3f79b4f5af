"""The Capacity page in a real browser (Debian's Chromium via Playwright): figures, cells and the trend draw,
with no console error or CSP violation (screenshot: test-screenshots/capacity.png)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from dashboard import Sources, dashboard_router
from metrics_store.memory import MemoryStore
from paramedic.dashboard import PromqlMetricsReader
from platforms.capacity import CapacityService, capacity_router
from tests.platforms.capacity.history import write_cf
from tests.support.browser import chromium, screenshot, watch
from tests.support.servers import free_port, wait_until


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
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="capacity-test-server", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 20, "the capacity test server")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


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
