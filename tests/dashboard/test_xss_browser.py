"""The Alerts and Remediation pages in a real browser (Playwright driving Debian's Chromium): log in through
the form, create a silence and watch it expire, expire one by hand, approve a pending remediation action, and
prove hostile alert labels/annotations, silence text and action data never execute.

The server is the assembled Paramedic (auth middleware, login, Alertmanager API, dashboard) plus a
:class:`RemediationEngine` over a :class:`SimPlatform` with a policy that needs approval and its router from
``remediation.api``, built here: the assembly wires remediation only over a real platform adapter (local or
Cloud Foundry), which a page test does not need. It runs in uvicorn on a free loopback port in a thread.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from prometheus_client import CollectorRegistry

from alerting.model import Alert
from paramedic.assembly import Paramedic
from paramedic.auth import TokenStore, UserStore
from paramedic.config import parse_config
from remediation.api import actions_router
from remediation.audit import MemoryAuditLog
from remediation.config import GlobalRails, Policy
from remediation.engine import RemediationEngine
from remediation.sim import SimPlatform
from tests.support.browser import chromium, screenshot, watch
from tests.support.servers import free_port, wait_until

CONFIG = """
server: {auth: {tokens_file: tokens.json}}
metrics_store: {type: embedded, path: metrics}
alerting:
  data_dir: alerting
  route: {receiver: nobody, group_wait: 1s, group_by: [alertname]}
  receivers: [{name: nobody}]
"""
OPERATOR, VIEWER = ("ops", "operator-password-1"), ("val", "viewer-password-1")
ADMIN = ("ada", "admin-password-1")
XSS_SCRIPT = "<script>window.__xss = 1</script>"
XSS_IMG = '"><img src=x onerror="window.__xss = 2">'
XSS_URL = "javascript:window.__xss = 3"


@dataclass
class UI:
    url: str
    token: str  # operator API token, for setting up data
    engine: RemediationEngine
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(20)


def _policy() -> Policy:
    return Policy.model_validate(
        {
            "name": "restart-on-down",
            "mode": "live",
            "trigger": {"matchers": ['alertname="Down"']},
            "target": {"app_label": "app", "instance_label": "app_instance"},
            "action": {"type": "restart_app"},
            "rails": {"approval": {"required": True, "timeout": 3600}},
            "verify": {"deadline": 0.3, "on_failure": "escalate"},
        }
    )


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    tmp = tmp_path_factory.mktemp("ui")
    users = UserStore(tmp / "users.json")
    users.create(OPERATOR[0], "operator", OPERATOR[1])
    users.create(VIEWER[0], "viewer", VIEWER[1])
    users.create(ADMIN[0], "admin", ADMIN[1])
    token = TokenStore(tmp / "tokens.json").create("setup", "operator")
    server = Paramedic(parse_config(CONFIG), base_dir=tmp, registry=CollectorRegistry())
    engine = RemediationEngine(
        [_policy()],
        SimPlatform({"web": 2}),
        MemoryAuditLog(),
        global_rails=GlobalRails(cooldown=0),
        registry=CollectorRegistry(),
        backoff_s=0.01,
    )
    server.app.include_router(actions_router(engine))
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(server.app, host="127.0.0.1", port=port, log_level="warning"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(uv.serve()), daemon=True)
    thread.start()
    try:
        wait_until(lambda: uv.started, 20, "uvicorn to start")
        yield UI(f"http://127.0.0.1:{port}", token, engine, loop)
    finally:
        uv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as context:
        context.route("**/favicon.ico", lambda route: route.fulfill(status=204))  # no icon: no 404 noise
        yield context


def log_in(browser: Any, ui: UI, user: tuple[str, str], path: str) -> Any:
    """A fresh page logged in through the form, starting from ``path`` (which redirects to /login)."""
    browser.clear_cookies()
    page = browser.new_page()
    page.goto(ui.url + path)
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("#username", user[0])
    page.fill("#password", user[1])
    page.click("#login-submit")
    page.wait_for_url(ui.url + path)
    return page


def failed(status: int, reason: str) -> str:
    return (
        f"console error: Failed to load resource: the server responded with a status of {status} ({reason})"
    )


def on_dialog(dialog: Any, seen: list[str]) -> None:
    seen.append(dialog.message)
    dialog.dismiss()


def no_execution(page: Any, dialogs: list[str]) -> None:
    """Nothing hostile ran or became markup on ``page``."""
    assert page.evaluate("window.__xss") is None, page.url
    assert page.locator('img[src="x"], a[href^="javascript:"]').count() == 0, page.url
    assert page.locator("script:not([src])").count() == 0, page.url
    assert dialogs == [], page.url


def post_alerts(ui: UI, alerts: list[dict[str, Any]]) -> None:
    resp = httpx.post(
        ui.url + "/api/v2/alerts", json=alerts, headers={"Authorization": f"Bearer {ui.token}"}, timeout=10
    )
    assert resp.status_code == 200, resp.text


def test_login_form(browser: Any, ui: UI) -> None:
    browser.clear_cookies()
    page = browser.new_page()
    w = watch(page)
    page.goto(ui.url + "/alerts")
    page.wait_for_url(re.compile(r"/login\?next=%2Falerts"))
    page.fill("#username", OPERATOR[0])
    page.fill("#password", "not-the-password")
    page.click("#login-submit")
    assert "Invalid user name or password" in page.inner_text("#login-error")
    page.fill("#password", OPERATOR[1])
    page.click("#login-submit")
    page.wait_for_url(ui.url + "/alerts")
    assert "ops (operator)" in page.inner_text("header")
    screenshot(page, "ui-login-alerts")
    page.click("#logout")
    page.wait_for_url(re.compile(r"/login$"))
    page.goto(ui.url + "/remediation")
    page.wait_for_url(re.compile(r"/login\?next="))
    assert [p for p in w.problems(page) if p != failed(401, "Unauthorized")] == []  # the wrong password's
    page.close()


def test_silence_created_expires_and_can_be_expired(browser: Any, ui: UI) -> None:
    post_alerts(ui, [{"labels": {"alertname": "SilenceMe", "app": "web", "severity": "warning"}}])
    page = log_in(browser, ui, OPERATOR, "/alerts")
    w = watch(page)
    page.fill("#silence-matchers", 'alertname="SilenceMe", app=~"we.*"')
    page.fill("#silence-duration", "3s")
    page.fill("#silence-comment", "short one")
    page.click("#silence-create")
    row = page.locator("#silences tr.silence", has_text="short one")
    row.locator(".silence-state", has_text="active").wait_for(timeout=10_000)
    assert 'alertname="SilenceMe"' in row.inner_text()
    screenshot(page, "ui-silence-active")
    # The page refreshes every 5 s: the 3 s silence shows as expired without a reload.
    row.locator(".silence-state", has_text="expired").wait_for(timeout=20_000)
    page.fill("#silence-duration", "1h")
    page.fill("#silence-comment", "long one")
    page.click("#silence-create")
    long_row = page.locator("#silences tr.silence", has_text="long one")
    long_row.locator(".silence-state", has_text="active").wait_for(timeout=10_000)
    long_row.locator("button.expire").click()
    long_row.locator(".silence-state", has_text="expired").wait_for(timeout=10_000)
    screenshot(page, "ui-silence-expired")
    assert w.problems(page) == []
    page.close()


def test_viewer_sees_no_write_controls(browser: Any, ui: UI) -> None:
    page = log_in(browser, ui, VIEWER, "/alerts")
    assert page.locator("#silence-form").count() == 0
    page.goto(ui.url + "/remediation")
    page.wait_for_selector("#remediation-page[data-loaded]")
    assert page.locator("button.mode-switch").count() == 0
    page.close()


def test_approve_pending_action(browser: Any, ui: UI) -> None:
    (rec,) = ui.run(ui.engine.handle([Alert({"alertname": "Down", "app": "web", "app_instance": "1"}, {})]))
    assert rec.status == "pending_approval"
    page = log_in(browser, ui, OPERATOR, "/remediation")
    w = watch(page)
    policy = page.locator("#policies tr.policy", has_text="restart-on-down")
    policy.locator(".mode", has_text="live").wait_for(timeout=10_000)
    assert policy.locator("button.mode-switch").count() == 0  # switching modes needs admin
    pending = page.locator(f'#pending tr[data-id="{rec.request.id}"]')
    pending.wait_for(timeout=10_000)
    screenshot(page, "ui-remediation-pending")
    pending.locator("button.approve").click()
    pending.wait_for(state="detached", timeout=10_000)
    audit = page.locator(f'#audit tr[data-id="{rec.request.id}"]')
    wait_until(lambda: "pending" not in audit.locator(".status").inner_text(), 10, "the approval to show")
    audit.locator("a.action-link").click()
    page.wait_for_url(re.compile(r"/remediation/actions/"))
    page.wait_for_selector("#action-page[data-loaded]")
    events = page.inner_text("#action-events")
    assert "approved" in events
    assert '"who":"ops"' in events
    screenshot(page, "ui-remediation-action")
    assert w.problems(page) == []
    page.close()


def test_admin_switches_a_policy_mode(browser: Any, ui: UI) -> None:
    page = log_in(browser, ui, ADMIN, "/remediation")
    w = watch(page)
    policy = page.locator("#policies tr.policy", has_text="restart-on-down")
    policy.locator(".mode", has_text="live").wait_for(timeout=10_000)
    policy.locator("button.mode-switch").click()
    policy.locator(".mode", has_text="dry-run").wait_for(timeout=10_000)
    policy.locator("button.mode-switch").click()
    policy.locator(".mode", has_text="live").wait_for(timeout=10_000)
    assert w.problems(page) == []
    page.close()


def test_hostile_strings_never_execute(browser: Any, ui: UI) -> None:
    post_alerts(
        ui,
        [
            {
                "labels": {"alertname": "Hostile", "app": XSS_SCRIPT, "severity": XSS_IMG},
                "annotations": {"summary": XSS_IMG, "description": XSS_SCRIPT, "runbook_url": XSS_URL},
                "generatorURL": XSS_URL,
            }
        ],
    )
    silence = {
        "matchers": [{"name": "alertname", "value": XSS_IMG, "isRegex": False, "isEqual": True}],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": XSS_SCRIPT,
        "comment": XSS_IMG,
    }
    resp = httpx.post(
        ui.url + "/api/v2/silences", json=silence, headers={"Authorization": f"Bearer {ui.token}"}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    labels = {"alertname": "Down", "app": XSS_IMG, "app_instance": "0", "note": XSS_SCRIPT}
    (rec,) = ui.run(ui.engine.handle([Alert(labels, {"summary": XSS_SCRIPT})]))
    page = log_in(browser, ui, OPERATOR, "/alerts")
    w = watch(page)
    dialogs: list[str] = []
    page.on("dialog", lambda d: on_dialog(d, dialogs))
    page.locator("#alert-groups li", has_text="Hostile").wait_for(timeout=15_000)
    page.locator("#silences tr.silence", has_text="onerror").wait_for(timeout=10_000)
    screenshot(page, "ui-xss-alerts")
    assert XSS_SCRIPT in page.inner_text("#alert-groups")  # shown as text
    no_execution(page, dialogs)
    assert w.problems(page) == []
    pages = {
        "/remediation": None,
        f"/remediation/actions/{rec.request.id}": None,
        "/remediation/actions/" + quote(XSS_IMG, safe=""): failed(404, "Not Found"),  # no such action
        "/login?next=" + quote("/" + XSS_IMG, safe=""): None,
    }
    for path, expected in pages.items():
        p = browser.new_page()
        pw = watch(p)
        p.on("dialog", lambda d: on_dialog(d, dialogs))
        p.goto(ui.url + path)
        if path.startswith("/remediation"):
            p.wait_for_selector("[data-loaded]", timeout=10_000)
        if path.startswith(f"/remediation/actions/{rec.request.id}"):
            assert XSS_IMG in p.inner_text("#action-summary")  # shown as text
            assert XSS_SCRIPT in p.inner_text("#action-request")
            screenshot(p, "ui-xss-action")
        if path == "/remediation":
            p.locator(f'#pending tr[data-id="{rec.request.id}"]', has_text="onerror").wait_for(timeout=10_000)
            screenshot(p, "ui-xss-remediation")
        no_execution(p, dialogs)
        assert [x for x in pw.problems(p) if x != expected] == [], path
        p.close()
    page.close()
