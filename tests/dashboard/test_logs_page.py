"""The Logs page shell: rendering, URL state, escaping of hostile input, static files, headers.

The page's data (hits, highlights, context, tail, patterns) comes from the log API: see
``tests/log_pipeline/test_api_highlight.py`` for the API and ``test_logs_browser.py`` for the page in
Chromium.
"""

from __future__ import annotations

import html as htmllib
import json
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from dashboard import CONTENT_SECURITY_POLICY, dashboard_router
from tests.dashboard.stubs import stub_sources

HOSTILE = '"><img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'


def client(*, log_search: bool = True, base_path: str = "") -> TestClient:
    app = FastAPI()
    app.include_router(dashboard_router(stub_sources(), base_path=base_path, log_search=log_search))
    return TestClient(app)


def attr(html: str, name: str) -> str:
    m = re.search(rf'id="logs-page"[^>]*?\s{name}="([^"]*)"', html, re.S)
    assert m, name
    return htmllib.unescape(m.group(1))


def test_shell_renders_with_url_state_and_security_headers() -> None:
    resp = client().get("/logs", params={"q": "level:error", "range": "6h", "tab": "patterns"})
    assert resp.status_code == 200
    assert resp.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    html = resp.text
    assert attr(html, "data-q") == "level:error"
    assert attr(html, "data-range") == "6h" and attr(html, "data-tab") == "patterns"
    assert json.loads(attr(html, "data-ranges"))["6h"] == 6 * 3600
    assert '<option value="6h" selected>' in html
    assert 'class="active" aria-current="page">Logs</a>' in html
    for part in ("logs-histogram", "logs-results", "tail-pause", "logs-patterns", "static/logs.js"):
        assert part in html
    assert re.search(r'<section id="tab-results"[^>]*hidden', html)
    assert not re.search(r'<section id="tab-patterns"[^>]*hidden', html)


def test_custom_range_kept_and_bad_values_fall_back() -> None:
    html = client().get("/logs", params={"start": "1700000000", "end": "1700003600.5"}).text
    assert attr(html, "data-start") == "1700000000" and attr(html, "data-end") == "1700003600.5"
    assert '<option value="custom" selected>' in html
    for start, end in (("nan", "1"), ("5", "1"), ("x", "y"), ("-1", "10"), ("1", "")):
        html = client().get("/logs", params={"start": start, "end": end, "range": "bogus", "tab": "x"}).text
        assert attr(html, "data-start") == "" and attr(html, "data-end") == ""
        assert attr(html, "data-range") == "1h" and attr(html, "data-tab") == "results"


def test_hostile_query_is_escaped_everywhere() -> None:
    html = client().get("/logs", params={"q": HOSTILE}).text
    assert "<script>window" not in html and "<img" not in html
    assert attr(html, "data-q") == HOSTILE
    m = re.search(r'id="logs-q" value="([^"]*)"', html)
    assert m and htmllib.unescape(m.group(1)) == HOSTILE
    assert re.findall(r"<script[^>]*>", html) == [  # only the page's own scripts, none from data
        '<script src="/static/vendor/uplot/uPlot.iife.min.js" defer>',
        '<script src="/static/format.js" defer>',
        '<script src="/static/dashboard.js" defer>',
        '<script src="/static/logs.js" defer>',
    ]


def test_without_log_search_the_page_says_so() -> None:
    html = client(log_search=False).get("/logs").text
    assert 'id="logs-off"' in html and 'id="logs-page"' not in html and "logs.js" not in html


def test_base_path_prefixes_links() -> None:
    html = client(base_path="/ui").get("/ui/logs").text
    assert attr(html, "data-page-url") == "/ui/logs"
    assert 'src="/ui/static/logs.js"' in html and 'href="/ui/static/logs.css"' in html


def test_static_files_served_and_script_writes_no_markup() -> None:
    c = client()
    js = c.get("/static/logs.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert c.get("/static/logs.css").headers["content-type"].startswith("text/css")
    code = js.text
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert banned not in code, banned
    assert 'setAttribute("style"' not in code and "onclick" not in code
