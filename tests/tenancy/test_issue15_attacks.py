"""Issue 15's surfaces (reports, SLOs, capacity) tried by an attacker: regressions of what the review found.

* A log line is a tenant's to write, and its pattern's template becomes a chart label: matplotlib read a
  ``$...$`` in it as mathtext and failed on ``$\\foo$``, so one tenant's log line made the foundation's
  report (and its own) answer 500 and its scheduled email never go out.
* A template of one 4000-character word made a PDF table row taller than a page: fpdf2 refused it, and
  again the whole report (the PDF is attached to every email) failed.
* The render API's build slots were shared by everyone: one principal rendering in a loop took them all
  and every other tenant's preview answered 429.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pypdf import PdfReader

from alerting.slo import SloFileError, parse_slo_file, slo_router
from dashboard import RangeSeries, Sources
from dashboard.reports import ReportContext, build_report, render_html, render_pdf
from dashboard.reports.api import reports_router
from dashboard.reports.patterns import PatternsSection
from dashboard.views_local import LocalViews
from log_pipeline.patterns import PatternStats
from metrics_store.promql import Engine
from paramedic.config import ConfigError, parse_config
from platforms.tenancy import FOUNDATION, Grant, Scope

# what a tenant's app can log (Drain keeps these tokens: they are the same in every line)
HOSTILE = (
    r"$\foo$ <script>alert(1)</script> surge",
    r"cost $5 and $x^{2}$ now",
    "$" + r"\sqrt{" * 8 + "x" + "}" * 8 + "$ nested",
    "y" * 4000,  # one word as long as the miner keeps: a PDF table row taller than a page
)


class _SurgingPatterns:
    """The store's answer to the patterns section: every pattern of ``keys`` grew by 50 messages in the window
    after 1 in the window before (a surge)."""

    def __init__(self, keys: list[dict[str, str]]) -> None:
        self.keys = keys

    def instant(self, expr: str) -> list[object]:
        return []

    def range(self, expr: str, start_s: float, end_s: float, step_s: float) -> list[RangeSeries]:
        value = 1.0 if "offset" in expr else 50.0
        return [RangeSeries(dict(k), [end_s], [value]) for k in self.keys]


def _surging_report() -> tuple[str, bytes]:
    stats = PatternStats()
    keys = []
    for i, template in enumerate(HOSTILE):
        app = f"shop-{i}"
        stats.observe(app, f"p{i}", template, template, org="acme", space="prod")
        keys.append({"org": "acme", "space": "prod", "app": app, "pattern_id": f"p{i}"})
    now = time.time()
    ctx = ReportContext(
        FOUNDATION, Sources(metrics=_SurgingPatterns(keys)), LocalViews(), now - 3600, now, stats
    )  # type: ignore[arg-type]
    report = build_report(ctx, [PatternsSection()])
    assert set(report.charts) == {"patterns"}, "the surge is charted"
    return render_html(report), render_pdf(report)


def test_a_dollar_in_a_tenants_log_line_does_not_sink_the_report() -> None:
    html, pdf = _surging_report()
    # the templates are shown as written (escaped in HTML, literal in the PDF), never as markup
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert r"$\foo$" in html and "$x^{2}$" in html
    text = "".join(page.extract_text() for page in PdfReader(__import__("io").BytesIO(pdf)).pages)
    assert r"$\foo$" in text
    assert "y" * 4000 in html and "y" * 4000 not in text and "y" * 300 in text.replace("\n", "")


# -- the render API's slots ---------------------------------------------------------------------------


class _SlowReporter:
    """Stands in for :class:`~dashboard.reports.service.Reporter`: ``build`` waits until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Semaphore(0)

    def build(self, scope: Scope, period_s: float) -> Any:
        self.started.release()
        assert self.release.wait(30), "the test never released the build"
        return _report(scope)


def _report(scope: Scope) -> Any:
    now = time.time()
    ctx = ReportContext(scope, Sources(metrics=_SurgingPatterns([])), LocalViews(), now - 60, now)  # type: ignore[arg-type]
    return build_report(ctx, [])


@dataclass
class _Api:
    client: TestClient
    reporter: _SlowReporter


@pytest.fixture(scope="module")
def api() -> Iterator[_Api]:
    reporter = _SlowReporter()
    app = FastAPI()
    app.include_router(reports_router(reporter, max_concurrent=2))  # type: ignore[arg-type]
    scopes = {
        "team-a": Scope.of([Grant("acme", "prod", "viewer")]),
        "team-b": Scope.of([Grant("globex", "dev", "viewer")]),
    }

    @app.middleware("http")
    async def principal(request: Request, call_next: Any) -> Response:
        who = request.headers.get("x-who", "")
        request.state.principal = type("P", (), {"scope": scopes.get(who, FOUNDATION)})()
        response: Response = await call_next(request)
        return response

    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield _Api(client, reporter)


def test_one_tenant_rendering_in_a_loop_leaves_a_slot_for_another(api: _Api) -> None:
    api.reporter.release.clear()
    results: dict[str, int] = {}

    def render(who: str) -> None:
        resp = api.client.get("/api/v1/reports/render", params={"since": "1h"}, headers={"x-who": who})
        results[who] = resp.status_code

    first = threading.Thread(target=render, args=("team-a",))
    first.start()
    assert api.reporter.started.acquire(timeout=30), "team-a's build started"
    # team-a asks again while its first build runs: refused, the second slot stays free
    again = api.client.get("/api/v1/reports/render", params={"since": "1h"}, headers={"x-who": "team-a"})
    assert again.status_code == 429 and again.headers["Retry-After"] == "5"
    other = threading.Thread(target=render, args=("team-b",))
    other.start()
    assert api.reporter.started.acquire(timeout=30), "team-b's build got the free slot"
    api.reporter.release.set()
    first.join(30)
    other.join(30)
    assert results == {"team-a": 200, "team-b": 200}
    # both slots free again: team-a renders
    after = api.client.get("/api/v1/reports/render", params={"since": "1h"}, headers={"x-who": "team-a"})
    assert after.status_code == 200


# -- the SLO API's slots ------------------------------------------------------------------------------

SLO_FILE = """
slos:
  - {name: web-availability, org: acme, space: prod, app: web, objective: 99, sli: {type: availability}}
  - {name: shop-availability, org: globex, space: dev, app: shop, objective: 99, sli: {type: availability}}
"""


class _SlowStore:
    """A store whose reads wait until released (a year-long SLO range over a big store, made observable)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.reads = threading.Semaphore(0)

    def select(self, matchers: Any, start_ms: int, end_ms: int) -> list[Any]:
        self.reads.release()
        assert self.release.wait(30), "the test never released the read"
        return []

    def series(self, matchers: Any, start_ms: int, end_ms: int) -> list[Any]:
        return []


def test_slo_reads_leave_a_slot_for_another_tenant() -> None:
    slos = parse_slo_file(SLO_FILE)
    store = _SlowStore()
    engine = Engine(store, registry=CollectorRegistry())  # type: ignore[arg-type]
    app = FastAPI()
    app.include_router(slo_router(lambda: slos, engine, max_concurrent=2))
    scopes = {
        "acme": Scope.of([Grant("acme", "prod", "viewer")]),
        "globex": Scope.of([Grant("globex", None, "viewer")]),
    }

    @app.middleware("http")
    async def principal(request: Request, call_next: Any) -> Response:
        request.state.principal = type("P", (), {"scope": scopes[request.headers["x-who"]]})()
        response: Response = await call_next(request)
        return response

    results: dict[str, Any] = {}
    with TestClient(app, base_url="http://127.0.0.1") as client:

        def read(who: str) -> None:
            resp = client.get("/api/v1/slo", params={"start": 1, "end": 31_000_000}, headers={"x-who": who})
            results[who] = (resp.status_code, [s["key"] for s in resp.json()["data"]])

        first = threading.Thread(target=read, args=("acme",))
        first.start()
        assert store.reads.acquire(timeout=30), "acme's read reached the store"
        again = client.get("/api/v1/slo/acme/prod/web-availability", headers={"x-who": "acme"})
        assert again.status_code == 429 and again.headers["Retry-After"] == "2"
        other = threading.Thread(target=read, args=("globex",))
        other.start()
        assert store.reads.acquire(timeout=30), "globex's read got the free slot"
        store.release.set()
        first.join(30)
        other.join(30)
    assert results == {
        "acme": (200, ["acme/prod/web-availability"]),
        "globex": (200, ["globex/dev/shop-availability"]),
    }


# -- YAML alias bombs --------------------------------------------------------------------------------


def _alias_bomb(levels: int = 9) -> str:
    """Nested anchors and aliases: ~600 bytes that name 10**levels paths."""
    lines = ["x0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _finishes(fn: Any, timeout_s: float = 20.0) -> BaseException | None:
    """Run ``fn`` in a thread; the exception it raised (it must raise) once it ends within ``timeout_s``."""
    caught: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except Exception as exc:
            caught.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout_s)
    assert not worker.is_alive(), "the file's problems were not reported in time (walked every alias path)"
    return caught[0] if caught else None


def test_an_slo_file_of_nested_aliases_is_refused_quickly_with_its_line() -> None:
    bomb = _alias_bomb()
    exc = _finishes(lambda: parse_slo_file(bomb + "slos: *a8\n", "bomb.yaml"))
    assert isinstance(exc, SloFileError)
    assert exc.problems[0].file == "bomb.yaml" and exc.problems[0].line == 10
    exc = _finishes(lambda: parse_config(bomb + "server: {auth: {anonymous_read: *a8}}\n"))
    assert isinstance(exc, ConfigError) and "server.auth.anonymous_read" in str(exc)
