"""The dashboard in a real browser (Debian's Chromium via Playwright): pages render with data, charts draw,
Explore runs a query, and no console error, uncaught exception or CSP violation happens.

``test_synthetic_*`` run against an in-process server over a MemoryStore; ``test_demo_*`` against a real
``paramedic demo`` (HAProxy, supervisord, node exporter, sample apps) and skip without those binaries."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from metrics_store.memory import MemoryStore
from tests.dashboard.synthetic import fill, serve_in_thread
from tests.support.browser import chromium, screenshot, watch
from tests.support.servers import wait_until


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as context:
        yield context


@pytest.fixture(scope="module")
def synthetic() -> Iterator[str]:
    store = MemoryStore()
    fill(store, apps=3, instances=3, hours=2)
    with serve_in_thread(store) as url:
        yield url


def _charts_drawn(page: Any, count: int) -> None:
    # A selector, not wait_for_function: the page's CSP (no 'unsafe-eval') blocks Playwright's predicates.
    page.wait_for_selector(f"body[data-charts-drawn='{count}']", state="attached", timeout=15_000)


def test_synthetic_overview_app_explore(browser: Any, synthetic: str) -> None:
    page = browser.new_page()
    w = watch(page)
    page.goto(synthetic + "/")
    assert page.locator("#kpi-rps .kpi-value").inner_text() != "—"
    assert page.locator("#apps tbody tr").count() == 3
    page.wait_for_selector(".spark canvas")
    screenshot(page, "synthetic-overview")

    page.goto(synthetic + "/apps/app-01?range=1h")
    _charts_drawn(page, 6)
    assert page.locator("#timeline canvas").count() >= 6
    assert int(page.locator('.chart[data-key="memory"]').get_attribute("data-series") or 0) == 3
    screenshot(page, "synthetic-app")

    page.goto(synthetic + "/explore?expr=" + "sum by (app) (rate(http_requests_total[1m]))")
    page.locator(".tabs button[data-tab=table]").click()
    page.wait_for_selector("#result-table tbody tr")
    assert page.locator("#result-table tbody tr").count() == 3
    assert "tab=table" in page.url
    screenshot(page, "synthetic-explore")
    problems = w.problems(page)
    assert problems == [], "\n".join(problems)


def test_synthetic_autocomplete_and_escaping(browser: Any, synthetic: str) -> None:
    page = browser.new_page()
    w = watch(page)
    page.goto(synthetic + "/explore")
    page.locator("#expr").click()
    page.keyboard.type("process_res")
    page.wait_for_selector("#suggest li")
    assert page.locator("#suggest li").first.inner_text() == "process_resident_memory_bytes"
    page.keyboard.press("Tab")
    page.keyboard.type("{app_i")
    page.wait_for_selector("#suggest li")
    assert "app_instance" in page.locator("#suggest li").all_inner_texts()
    # A hostile expression is shown as text, never run as markup.
    page.goto(synthetic + "/explore?expr=" + "<img src=x onerror=window.__pwned=1>")
    page.locator("#explore-status", has_text="Error").wait_for()
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator("#expr").input_value() == "<img src=x onerror=window.__pwned=1>"
    assert [p for p in w.problems(page) if "status of 400" not in p] == []


@pytest.mark.integration
def test_demo_pages_with_live_data(browser: Any, tmp_path: Path) -> None:
    from tests.support.demo import running_demo  # noqa: PLC0415 - skips cleanly where the demo cannot run

    with running_demo(tmp_path / "demo", apps=2, instances=2) as demo:

        def kpis_live() -> bool:
            html = httpx.get(demo.api + "/", headers=demo.auth_headers, timeout=5).text
            return 'id="kpi-rps"' in html and 'data-value=""' not in html.split('id="kpi-rps"')[1][:300]

        wait_until(kpis_live, 90, "live router KPIs on the overview", interval_s=1)

        def app_rates_on_the_chart_grid() -> bool:
            # The app page's charts end at the last whole step (15 s for 15 min): wait until every app has
            # a request rate there, not just "now", or a fresh demo shows "No data in this range".
            end = int(time.time()) // 15 * 15
            params = {"query": "sum by (app) (rate(http_requests_total[1m]))", "time": str(end)}
            resp = httpx.get(demo.api + "/api/v1/query", params=params, headers=demo.auth_headers, timeout=5)
            return len(resp.json()["data"]["result"]) >= 2

        wait_until(app_rates_on_the_chart_grid, 90, "app request rates on the chart grid", interval_s=1)
        page = browser.new_page()
        page.set_extra_http_headers(demo.auth_headers)  # the UI now redirects anonymous browsers to /login
        w = watch(page)
        page.goto(demo.api + "/")
        assert page.locator("#kpi-rps .kpi-value").inner_text() != "—"
        assert page.locator("#apps tbody tr").count() >= 2
        app = page.locator("#apps tbody tr td a").first.inner_text()
        screenshot(page, "demo-overview")

        page.goto(f"{demo.api}/apps/{app}?range=15m")
        _charts_drawn(page, 6)
        assert int(page.locator('.chart[data-key="rps"]').get_attribute("data-series") or 0) >= 1
        assert page.locator("#instances tbody tr").count() >= 2
        screenshot(page, "demo-app")

        page.goto(demo.api + "/explore?expr=" + 'up{job="app"}' + "&tab=table")
        page.wait_for_selector("#result-table tbody tr")
        assert page.locator("#result-table tbody tr").count() >= 4
        screenshot(page, "demo-explore")
        assert w.problems(page) == []
