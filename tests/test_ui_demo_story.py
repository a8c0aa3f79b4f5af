"""Issue 7's "Done when" as one story, in Chromium against a real ``paramedic demo``: a new user opens the UI,
is sent to /login, logs in with the credentials the demo printed, sees live KPIs; an errors fault fires the
router 5xx alert; the user approves the pending app restart on the Remediation page and it runs and is
verified; the app page shows the error rate rising with alert and action markers (events list and pixels on
the canvas); the Logs page finds the 500s with highlighted matches and lists their pattern. No console
error, uncaught exception or CSP violation on any page. Screenshots: test-screenshots/demo-story-*.png."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from dashboard.views_local import APP_CHARTS, quote
from tests.support.browser import chromium, screenshot, watch
from tests.support.demo import Demo, paramedic_cli, running_demo
from tests.support.servers import wait_until

pytestmark = pytest.mark.integration

ROUTER_RULE = "AppRouter5xxRatioHigh"
APPROVAL_POLICY = "restart-app-on-router-errors"
ALERT_RGB, ACTION_RGB = (0xE4, 0x57, 0x2E), (0x17, 0xA3, 0x98)  # dashboard.js MARK_COLORS alert / action
UNFINISHED = ("requested", "deferred", "pending_approval", "running")

# Pixels of ``canvas`` within a small distance of each [r, g, b] in ``colors`` (markers are 2 px lines).
_COUNT_COLORS = """([canvas, colors]) => {
  const ctx = canvas.getContext("2d");
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const counts = colors.map(() => 0);
  let inked = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (px[i + 3] === 0) continue;
    inked += 1;
    colors.forEach(([r, g, b], k) => {
      if (Math.abs(px[i] - r) + Math.abs(px[i + 1] - g) + Math.abs(px[i + 2] - b) < 24) counts[k] += 1;
    });
  }
  return {inked, counts};
}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("story-demo"), scrape_interval_s=1.0, apps=2, instances=2) as d:
        yield d


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as context:
        yield context


def _api(demo: Demo, path: str, **params: Any) -> Any:
    resp = httpx.get(demo.api + path, params=params, headers=demo.auth_headers, timeout=10)
    resp.raise_for_status()
    return resp.json()


def _scalar(demo: Demo, expr: str) -> float:
    result = _api(demo, "/api/v1/query", query=expr)["data"]["result"]
    return max((float(r["value"][1]) for r in result), default=0.0)


def _clean(page: Any, w: Any, step: str) -> None:
    """No console error, page error or CSP violation so far (CSP violations are per document: call this
    before leaving a page)."""
    problems = w.problems(page)
    assert problems == [], f"{step}:\n" + "\n".join(problems)


def _goto(page: Any, w: Any, url: str) -> None:
    _clean(page, w, f"before leaving {page.url}")
    page.goto(url)


def _app_page_shows(page: Any, w: Any, url: str, action_text: str) -> bool:
    """Loads the app page; true once its events list holds the router alert and the approved action."""
    _goto(page, w, url)
    page.wait_for_selector("body[data-charts-drawn='6']", state="attached", timeout=20_000)
    page.wait_for_selector("#events", state="attached", timeout=10_000)
    alerts = page.locator("#events li.ev-alert").all_inner_texts()
    actions = page.locator("#events li.ev-action").all_inner_texts()
    return any(ROUTER_RULE in a for a in alerts) and any(action_text in a for a in actions)


def _error_values(page: Any) -> list[float | None]:
    """The errors chart's legend values (``12.3 %``; None for ``—``, no data), left to right, with the cursor
    swept across the chart's last 240 px in 3 px steps (a 15 s point of the 15 min range is ~9 px wide at
    this viewport, and a fresh demo has data only at the right end)."""
    over = page.locator('.chart[data-key="errors"] .u-over')
    value = page.locator('.chart[data-key="errors"] .u-legend .u-series').nth(1).locator(".u-value")
    box = over.bounding_box()
    assert box is not None
    values: list[float | None] = []
    for x in range(max(0, int(box["width"]) - 240), int(box["width"]), 3):
        over.hover(position={"x": x, "y": box["height"] / 2})
        found = re.fullmatch(r"([\d.]+) %", value.inner_text())
        values.append(float(found.group(1)) if found else None)
    return values


def test_new_user_watches_a_fault_get_remediated(demo: Demo, browser: Any) -> None:
    began = time.monotonic()
    record = demo.record()
    app = "checkout" if "checkout" in record["apps"] else sorted(record["apps"])[0]
    user, password = demo.admin_credentials
    assert f"web UI login: user {user}, password {password}" in demo.proc.log_path.read_text(errors="replace")

    # The router must have seen the app's traffic (the 5xx ratio's denominator, the overview's KPI), and the
    # app's rates must be on the app page's 15 s chart grid, before the story starts.
    wait_until(lambda: _scalar(demo, f'app:router_requests:rate1m{{app="{app}"}}') > 1.0, 60,
               f"{app}'s router request rate", interval_s=0.5)  # fmt: skip
    wait_until(lambda: _scalar(demo, "sum(rate(haproxy_backend_http_responses_total[1m]))") > 0, 30,
               "a router request rate for the overview KPI", interval_s=0.5)  # fmt: skip

    page = browser.new_page()
    w = watch(page)

    # (1) An anonymous browser is sent to the login form; the printed credentials open the Overview.
    page.goto(demo.api + "/")
    page.wait_for_url(re.compile(r"/login\?next="))
    screenshot(page, "demo-story-1-login")
    page.fill("#username", user)
    page.fill("#password", password)
    _clean(page, w, "login page")
    page.click("#login-submit")
    page.wait_for_url(demo.api + "/")
    rps = page.locator("#kpi-rps .kpi-value")
    assert float(rps.get_attribute("data-value") or 0) > 0, rps.inner_text()
    assert re.match(r"[\d.]+k? req/s", rps.inner_text()), rps.inner_text()
    assert app in page.locator("#apps tbody").inner_text()
    page.wait_for_selector(".spark canvas")
    screenshot(page, "demo-story-2-overview")

    # (2) Errors on every instance of the app: the router 5xx alert fires and its policy asks for approval.
    injected = paramedic_cli(
        "demo", "fault", "--app", app, "--kind", "errors", "--data-dir", str(demo.data_dir)
    )  # fmt: skip
    assert injected.returncode == 0, injected.stderr
    assert injected.stdout.count(f"injected errors into {app} instance") == 2, injected.stdout
    fault_at = time.time()

    # (3) The pending action appears on the Remediation page (it refreshes every 5 s); approve it there.
    _goto(page, w, demo.api + "/remediation")
    row = page.locator("#pending tr.pending-action", has=page.locator("td", has_text=re.compile(f"^{app}$")))
    row.wait_for(timeout=60_000)
    assert page.locator(".logout .who").inner_text() == f"{user} (admin)"
    assert APPROVAL_POLICY in row.inner_text() and "restart_app" in row.inner_text()
    action_id = row.get_attribute("data-id")
    assert action_id
    pending_s = time.time() - fault_at
    screenshot(page, "demo-story-3-pending-approval")
    row.locator("button.approve").click()
    audit_status = page.locator(f'#audit tr.audit-row[data-id="{action_id}"] td.status')
    audit_status.filter(has_text=re.compile("^(running|verifying|verified)$")).wait_for(timeout=30_000)
    assert page.locator(f'#pending tr.pending-action[data-id="{action_id}"]').count() == 0
    assert page.locator("#pending-error").inner_text() == ""
    action = _api(demo, f"/api/v1/actions/{action_id}")
    approved = [e for e in action["events"] if e["kind"] == "approved"]
    assert approved and approved[0]["data"].get("who") == user, action["events"]
    screenshot(page, "demo-story-4-approved")

    # (4) The app page: the error rate rises, the alert and the action are in the events list and drawn as
    # markers. Events are read once per page load and end at the last whole 15 s step: reload until both are
    # in. The restart ran, so the action's text is "restart_app <app>: <status>".
    app_url = f"{demo.api}/apps/{app}?range=15m"
    wait_until(lambda: _app_page_shows(page, w, app_url, f"restart_app {app}:"), 60,
               "the alert and the action on the app timeline", interval_s=0.5)  # fmt: skip
    events = page.locator("#events li.ev-action").all_inner_texts()
    assert any(re.search(rf"restart_app {app}: (running|verifying|verified)$", e) for e in events), events
    assert page.locator("#timeline canvas").count() >= 6
    assert page.locator('.chart[data-key="errors"]').get_attribute("data-series") == "1"
    assert page.locator('.chart[data-key="errors"] .chart-status').inner_text() == ""
    errors = _error_values(page)
    # Before the fault the app never answered a 5xx (no 5xx series): 0 %, not "no data" ("—"), at the chart's
    # 15 s grid points where it had requests; then above 5 %. (Whether a grid point falls between the app's
    # first request rate and the fault depends on timing: checked when one did.)
    known = [v for v in errors if v is not None]
    assert known and max(known) > 5, f"the 5xx % did not rise above 5 %: {errors}"
    (errors_query,) = next(c for c in APP_CHARTS if c.key == "errors").queries(app)
    before = {"time": fault_at // 15 * 15}
    if _api(demo, "/api/v1/query", query=f"sum(rate(http_requests_total{{app={quote(app)}}}[1m]))", **before)[
        "data"
    ]["result"]:
        at_grid = _api(demo, "/api/v1/query", query=errors_query, **before)["data"]["result"]
        assert [float(r["value"][1]) for r in at_grid] == [0.0], at_grid
        assert known[0] == 0.0, f"the 5xx % before the fault is not 0 %: {errors}"
    screenshot(page, "demo-story-5-app-timeline")
    canvas = page.locator('.chart[data-key="errors"] canvas').first.element_handle()
    drawn = page.evaluate(_COUNT_COLORS, [canvas, [list(ALERT_RGB), list(ACTION_RGB)]])
    assert drawn["inked"] > 1000, drawn
    assert drawn["counts"][0] > 50 and drawn["counts"][1] > 50, f"alert/action markers not drawn: {drawn}"
    page.mouse.move(0, 0)
    screenshot(page, "demo-story-5-app-timeline")

    # (5) Logs: the 500s, their matched field highlighted; the message phrase highlighted in the text; the
    # Patterns tab lists the app's error line template, and a click on it shows those lines.
    _goto(page, w, demo.api + "/logs?" + urlencode({"q": f"app:{app} AND status:500", "range": "15m"}))
    page.wait_for_selector("#logs-page[data-results]", state="attached", timeout=20_000)
    assert page.locator("#logs-page").get_attribute("data-results") not in ("0", "error")
    assert re.match(r"\d+ of \d+ matching lines", page.locator("#logs-status").inner_text())
    messages = page.locator("#logs-results > li .log-head .log-msg").all_inner_texts()
    # the app's access lines (status=500) and the router's ("... router <app>/<server> <timers> 500 ...")
    answered_500 = re.compile(r"status=500 | router \S+ \S+ 500 ")
    assert messages and all(answered_500.search(m) for m in messages), messages[:5]
    first = page.locator("#logs-results > li").first
    first.locator("button.toggle-fields").click()
    marked = first.locator(".log-fields tr.matched mark").all_inner_texts()
    assert app in marked and "500" in marked, marked
    page.fill("#logs-q", f'app:{app} AND "status=500"')
    page.click("#logs-run")
    page.wait_for_url(re.compile(r"q=app%3A" + app + r"\+AND\+%22status%3D500%22"))
    page.locator("#logs-results > li .log-msg mark").first.wait_for(timeout=20_000)
    marks = page.locator("#logs-results > li").first.locator(".log-msg mark").all_inner_texts()
    assert " ".join(marks).replace(" ", "") in ("status=500", "status500"), marks
    page.wait_for_selector("#logs-page[data-histogram]", state="attached")
    screenshot(page, "demo-story-6-logs-search")

    page.click(".tabs button[data-tab=patterns]")
    page.wait_for_selector("#logs-page[data-patterns]", state="attached", timeout=30_000)
    pattern = page.locator("#logs-patterns tr.pattern-row").filter(
        has=page.locator(
            "button.pattern-link", has_text=re.compile(r"WARNING sample_app\.access: .*status=<\*>")
        )
    )
    # one row, or two when the miner saw the first POST 500 before the GET template had generalised its method
    # (order-dependent, the same in the code before and after stop 29; the miner's grouping is judged in
    # tests/log_pipeline and bench/patterns.py, not here): the busiest row is the one the operator reads
    assert 1 <= pattern.count() <= 2, page.locator("#logs-patterns tbody").inner_text()
    cells = pattern.first.locator("td").all_inner_texts()
    assert cells[1] == app and int(cells[2]) > 0 and "status=500" in cells[5], cells
    screenshot(page, "demo-story-7-logs-patterns")
    pattern.locator("button.pattern-link").click()
    page.wait_for_url(re.compile(r"tab=results"))
    page.locator("#logs-results > li").first.wait_for(timeout=20_000)
    assert re.match(r"\d+ of \d+ matching lines", page.locator("#logs-status").inner_text())
    assert all("WARNING sample_app.access" in m for m in page.locator(".log-msg").all_inner_texts()[:20])

    # (3, end) Back on the Remediation page: the approved restart ran and was verified (the alert resolved).
    _goto(page, w, demo.api + "/remediation")
    wait_until(lambda: _api(demo, f"/api/v1/actions/{action_id}")["status"] not in (*UNFINISHED, "verifying"),
               90, "the approved restart to be verified", interval_s=1)  # fmt: skip
    action = _api(demo, f"/api/v1/actions/{action_id}")
    kinds = [e["kind"] for e in action["events"]]
    assert "succeeded" in kinds, kinds
    assert action["status"] == "verified", (action["status"], action["events"][-1])
    calls = [(e["data"]["call"], e["data"]["args"]) for e in action["events"] if e["kind"] == "platform_call"]
    assert calls == [("restart_app", [app])], calls
    audit_status.filter(has_text="verified").wait_for(timeout=15_000)
    screenshot(page, "demo-story-8-verified")
    _clean(page, w, "remediation page")
    print(f"pending approval {pending_s:.1f}s after the fault; story took {time.monotonic() - began:.0f}s")
