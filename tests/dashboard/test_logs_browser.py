"""The Logs page in Chromium against a real ``paramedic serve`` (subprocess) with the embedded log store, fed
RFC 5424 lines over syslog TCP (hostile ones included).

Checks: search marks the hits with <mark>, fields expand, "show context" shows the neighbours, dragging on the
histogram zooms (URL and range picker follow), live tail shows a new line and pause holds the next, the
patterns tab lists a template and clicking it filters; hostile lines render as text (``window.__xss`` stays
undefined, no dialog), and there is no console error or CSP violation. Everything polls with a deadline.
"""

from __future__ import annotations

import re
import secrets
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from paramedic.auth import TokenStore, UserStore
from tests.support.browser import chromium, screenshot, watch
from tests.support.servers import ManagedProcess, free_port, wait_http, wait_until

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
VIEWER = ("logreader", "viewer-password-1")
XSS_SCRIPT = "<script>window.__xss=1</script> xsscheck script"
XSS_IMG = '"><img src=x onerror="window.__xss=1"> xsscheck img'
XSS_URL = "xsscheck link javascript:window.__xss=1 and [click](javascript:window.__xss=1)"


@dataclass
class Server:
    url: str
    tcp_port: int
    proc: ManagedProcess
    token: str  # a viewer API token: reading needs one

    def send(self, *messages: str, app: str = "checkout", instance: int = 0) -> None:
        """RFC 5424 lines as the local platform forwards them (app-name = app, proc-id = index, msgid APP)."""
        out = b""
        for m in messages:
            ts = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
            out += f"<14>1 {ts} cell1 {app} {instance} APP - {m}\n".encode()
        with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=5) as sock:
            sock.sendall(out)

    def total(self, q: str) -> int:
        body = httpx.get(
            f"{self.url}/api/v1/logs/search",
            params={"q": q, "limit": 1},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        ).json()
        return int(body["data"]["total"]) if body.get("status") == "success" else -1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("logs-ui")
    http_port, tcp_port, relp_port = free_port(), free_port(), free_port()
    (tmp / "data").mkdir()
    UserStore(tmp / "data" / "users.json").create(VIEWER[0], "viewer", VIEWER[1])
    token = TokenStore(tmp / "data" / "tokens.json").create("test-harness", "viewer")
    cfg = tmp / "paramedic.yaml"
    cfg.write_text(
        f"server: {{listen_port: {http_port}, auth: {{tokens_file: data/tokens.json}}}}\n"
        "metrics_store: {type: embedded, path: data/metrics}\n"
        "logs:\n"
        f"  relp: {{port: {relp_port}}}\n"
        f"  syslog_tcp: {{port: {tcp_port}}}\n"
        "  syslog_udp: null\n"
        "  spool: {path: data/logs/spool}\n"
        "  search: {type: embedded, path: data/logs/search}\n"
        "  pattern_flush_interval_s: 1\n"
    )
    proc = ManagedProcess(
        "paramedic-logs-ui",
        [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(cfg)],
        tmp / "paramedic.log",
        cwd=REPO,
    )
    try:
        url = f"http://127.0.0.1:{http_port}"
        wait_http(f"{url}/-/ready", 60, proc)
        srv = Server(url, tcp_port, proc, token)
        srv.send(*(f"payment accepted order={1000 + i} amount={i}.50" for i in range(12)))
        srv.send("ctx before one", "ctx before two", "the needle line here", "ctx after one", "ctx after two")
        srv.send("db connection refused host=db-1 retry=3", "upstream connection refused again", app="cart")
        srv.send(XSS_SCRIPT, XSS_IMG, XSS_URL)
        wait_until(lambda: srv.total("") >= 22, 30, "22 lines to be searchable", interval_s=0.2)
        yield srv
    finally:
        proc.stop(20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as context:
        context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
        yield context


@pytest.fixture(scope="module")
def logged_in(browser: Any, server: Server) -> Any:
    page = browser.new_page()
    page.goto(server.url + "/logs")
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("#username", VIEWER[0])
    page.fill("#password", VIEWER[1])
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/logs"))
    page.close()
    return browser


@dataclass
class Watched:
    page: Any
    dialogs: list[str]
    watch: Any

    def assert_clean(self) -> None:
        assert self.page.evaluate("typeof window.__xss") == "undefined"
        assert self.dialogs == []
        problems = self.watch.problems(self.page)
        assert problems == [], "\n".join(problems)


def open_page(browser: Any, url: str) -> Watched:
    page = browser.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    w = watch(page)
    page.goto(url)
    return Watched(page, dialogs, w)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def test_search_highlights_fields_and_context(logged_in: Any, server: Server) -> None:
    w = open_page(logged_in, server.url + "/logs?q=refused")
    page = w.page
    page.wait_for_selector("#logs-page[data-results='2']", state="attached", timeout=15_000)
    marks = page.locator("#logs-results .log-msg mark").all_inner_texts()
    assert marks == ["refused", "refused"]
    # expand the fields of the first hit: labels and the logfmt fields
    first = page.locator("#logs-results > li").first
    first.locator(".toggle-fields").click()
    table = first.locator(".log-details table")
    table.wait_for()
    assert "cart" in table.inner_text() and "app" in table.inner_text()
    screenshot(page, "logs-results")

    page.fill("#logs-q", "needle")
    page.press("#logs-q", "Enter")
    page.wait_for_selector("#logs-page[data-results='1']", state="attached", timeout=15_000)
    assert query_of(page.url)["q"] == "needle"
    hit = page.locator("#logs-results > li").first
    hit.locator(".show-context").click()
    ctx = hit.locator(".log-context .context-lines > li")
    wait_until(lambda: ctx.count() >= 5, 10, "the context lines")
    texts = ctx.all_inner_texts()
    assert any("ctx before two" in t for t in texts) and any("ctx after one" in t for t in texts)
    assert "needle" in hit.locator(".context-hit").inner_text()
    screenshot(page, "logs-context")
    w.assert_clean()


def test_hostile_lines_render_as_text(logged_in: Any, server: Server) -> None:
    w = open_page(logged_in, server.url + "/logs?q=xsscheck")
    page = w.page
    page.wait_for_selector("#logs-page[data-results='3']", state="attached", timeout=15_000)
    shown = page.locator("#logs-results .log-msg").all_inner_texts()
    assert sorted(shown) == sorted([XSS_SCRIPT, XSS_IMG, XSS_URL])
    assert page.locator("#logs-results img, #logs-results script, #logs-results a").count() == 0
    for i in range(3):  # fields (logfmt parsed src=x, onerror=...) and context of every hostile line
        line = page.locator("#logs-results > li").nth(i)
        line.locator(".toggle-fields").click()
        line.locator(".show-context").click()
        line.locator(".log-context .context-lines").wait_for()
    assert page.locator("#logs-page img, #logs-page script").count() == 0
    screenshot(page, "logs-hostile")
    w.assert_clean()


def test_histogram_drag_zooms(logged_in: Any, server: Server) -> None:
    w = open_page(logged_in, server.url + "/logs?range=1h")
    page = w.page
    page.wait_for_selector("#logs-page[data-histogram]", state="attached", timeout=15_000)
    box = page.locator("#logs-histogram .u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.99, y, steps=5)
    page.mouse.up()
    page.wait_for_url(re.compile(r"[?&]start=\d+"), timeout=10_000)
    q = query_of(page.url)
    span = int(q["end"]) - int(q["start"])
    assert 1000 < span < 2400, q  # about half of the hour
    assert page.locator("#logs-range").input_value() == "custom"
    page.wait_for_selector("#logs-page[data-results]", state="attached", timeout=15_000)
    screenshot(page, "logs-zoomed")
    w.assert_clean()


def test_live_tail_and_pause(logged_in: Any, server: Server) -> None:
    token = "tail" + secrets.token_hex(4)
    w = open_page(logged_in, f"{server.url}/logs?tab=tail&q={token}")
    page = w.page
    page.locator("#tail-state", has_text="Live").wait_for(timeout=15_000)
    server.send(f"{token} first line")
    page.locator("#tail-lines li", has_text="first line").wait_for(timeout=15_000)
    assert page.locator("#tail-lines mark").first.inner_text() == token
    page.click("#tail-pause")
    server.send(f"{token} second line")
    page.locator("#tail-state", has_text="1 new line held").wait_for(timeout=15_000)
    assert page.locator("#tail-lines li", has_text="second line").count() == 0
    screenshot(page, "logs-tail-paused")
    page.click("#tail-pause")
    page.locator("#tail-lines li", has_text="second line").wait_for(timeout=5_000)
    assert page.locator("#tail-lines > li").count() == 2
    w.assert_clean()


def test_patterns_list_and_click_filters(logged_in: Any, server: Server) -> None:
    w = open_page(logged_in, server.url + '/logs?tab=patterns&q=app:"checkout"')
    page = w.page
    page.wait_for_selector("#logs-page[data-patterns]", state="attached", timeout=15_000)
    row = page.locator("#logs-patterns tbody tr", has_text="payment accepted")
    row.wait_for()
    assert "12" in row.locator("td").nth(2).inner_text()
    row.locator("svg.trend polyline").wait_for()  # its trend: the histogram of the pattern's query
    assert page.locator("#logs-patterns tbody tr", has_text="refused").count() == 0  # another app
    screenshot(page, "logs-patterns")
    row.locator(".pattern-link").click()
    page.wait_for_url(re.compile(r"[?&]tab=results"), timeout=10_000)
    assert "payment accepted" in query_of(page.url)["q"]
    page.wait_for_selector("#logs-page[data-results='12']", state="attached", timeout=15_000)
    assert all("payment accepted" in t for t in page.locator("#logs-results .log-msg").all_inner_texts())
    # a hostile template: shown as text, and its filter (words between the <*>) finds its one line
    page.goto(server.url + '/logs?tab=patterns&q=app:"checkout"')
    hostile = page.locator("#logs-patterns tbody tr", has_text="xsscheck script")
    hostile.wait_for()
    assert hostile.locator(".pattern-link").inner_text().startswith("<script>window.")
    hostile.locator(".pattern-link").click()
    page.wait_for_selector("#logs-page[data-results='1']", state="attached", timeout=15_000)
    assert page.locator("#logs-results .log-msg").inner_text() == XSS_SCRIPT
    w.assert_clean()
