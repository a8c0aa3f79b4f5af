"""Scheduled reports end to end: two tenants' data in a real embedded store, audit log and pattern listing;
the scheduler mails each recipient its tenant's report to the demo's SMTP sink (``platforms.local.smtp_sink``,
a real aiosmtpd server in its own process); the received HTML opens in Chromium with its sections and charts;
the PDF attachment parses (pypdf) and holds the same figures and charts; a space's report holds nothing of
another space's or of the foundation's. The render API, the preview page and ``paramedic report render`` run
against a real uvicorn server through the real auth middleware (scoped tokens), attacker cases included."""

from __future__ import annotations

import asyncio
import base64
import html as htmllib
import io
import re
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pypdf
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from dashboard import Sources, dashboard_router
from dashboard.reports import Reporter, ReportScheduler, ReportsConfig, SmtpSettings, reports_router
from dashboard.views_local import LocalViews
from paramedic.auth import TokenStore, UserStore
from paramedic.auth import install as install_auth
from paramedic.cli import app as cli_app
from paramedic.config import AuthConfig
from paramedic.dashboard import AuditActions, PromqlMetricsReader
from platforms.local.smtp_sink import list_mails
from platforms.tenancy import Grant
from tests.dashboard.reports.seed import (
    ACME,
    GLOBEX,
    ROUTER_ALERT,
    Tenant,
    seed_audit,
    seed_patterns,
    seed_store,
)
from tests.support.browser import chromium
from tests.support.servers import ManagedProcess, free_port, wait_http, wait_until

pytestmark = pytest.mark.integration

SECTIONS = ("incidents", "remediation", "patterns", "top_apps")
TOKENS = {
    "admin": ("admin", []),
    "acme-prod": ("viewer", [Grant("acme", "prod", "viewer")]),
    "acme-org": ("viewer", [Grant("acme", None, "viewer")]),
}
RECIPIENTS = {
    "acme/prod": "acme-prod@example.com",
    "globex/prod": "globex@example.com",
    "foundation": "ops@example.com",
}


@dataclass
class Env:
    url: str
    tokens: dict[str, str]
    mails: dict[str, EmailMessage]  # by tenant
    tmp: Path
    password: str  # the UI user acme-user's (a viewer of acme/prod)

    def get(self, who: str | None, path: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.get(self.url + path, params=params, headers=headers, timeout=60)


def _serve(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 20, "the report server")
    return server, thread, f"http://127.0.0.1:{port}"


def _scheduler(reporter: Reporter, smtp_port: int) -> ReportScheduler:
    config = ReportsConfig.model_validate(
        {
            "smtp_receiver": "ops",
            "schedules": [{"name": "hourly", "cron": "0 * * * *", "period_s": 3600}],
            "recipients": [{"tenant": t, "to": [to]} for t, to in RECIPIENTS.items()],
        }
    )
    smtp = SmtpSettings(sender="paramedic@example.com", port=smtp_port, security="plain", timeout_s=20)
    return ReportScheduler(config, reporter, smtp)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("reports")
    now = time.time()
    store = seed_store(tmp / "metrics", now)
    sources = Sources(metrics=PromqlMetricsReader(store), actions=AuditActions(seed_audit(now)))
    reporter = Reporter(sources, LocalViews(), patterns=seed_patterns(), registry=CollectorRegistry())
    token_store = TokenStore(tmp / "tokens.json")
    tokens = {name: token_store.create(name, role, grants=grants) for name, (role, grants) in TOKENS.items()}
    password = secrets.token_urlsafe(12)
    UserStore(tmp / "users.json").create(
        "acme-user", "viewer", password, grants=[Grant("acme", "prod", "viewer")]
    )
    smtp_port, http_port = free_port(), free_port()
    scheduler = _scheduler(reporter, smtp_port)
    app = FastAPI()
    install_auth(app, AuthConfig(tokens_file="tokens.json"), base_dir=tmp, registry=CollectorRegistry())
    app.include_router(reports_router(reporter, scheduler=scheduler, max_period_s=7 * 86400))
    app.include_router(dashboard_router(sources, views=LocalViews()))
    sink = ManagedProcess(
        "smtp-sink",
        [sys.executable, "-m", "platforms.local.smtp_sink", "--mail-dir", str(tmp / "mail"), "--webhook-dir",
         str(tmp / "hooks"), "--smtp-port", str(smtp_port), "--http-port", str(http_port)],
        tmp / "sink.log",
    )  # fmt: skip
    server, thread, url = _serve(app)
    try:
        wait_http(f"http://127.0.0.1:{http_port}/", 20, sink)
        assert asyncio.run(scheduler.run_schedule("hourly")) == len(RECIPIENTS)
        wait_until(
            lambda: len(list_mails(tmp / "mail")) >= len(RECIPIENTS), 30, "the reports at the SMTP sink"
        )
        by_to = {str(m["To"]): m for _, m in list_mails(tmp / "mail")}
        mails = {tenant: by_to[to] for tenant, to in RECIPIENTS.items()}
        yield Env(url, tokens, mails, tmp, password)
    finally:
        server.should_exit = True
        thread.join(10)
        sink.stop()
        store.close()


def _parts(msg: EmailMessage) -> tuple[str, str, dict[str, bytes], bytes]:
    """HTML, text, inline images by Content-ID, PDF attachment."""
    html = text = ""
    images: dict[str, bytes] = {}
    pdf = b""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "text/html":
            html = htmllib.unescape(part.get_content())  # names compared as written (``<*>``)
        elif ctype == "text/plain":
            text = part.get_content()
        elif ctype == "image/png":
            images[str(part["Content-ID"]).strip("<>")] = part.get_payload(decode=True)
        elif ctype == "application/pdf":
            pdf = part.get_payload(decode=True)
    return html, text, images, pdf


def _pdf_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = " ".join((page.extract_text() or "") for page in reader.pages)
    return re.sub(r"\s+", " ", text)  # table cells wrap


def _figures(html: str) -> list[tuple[str, str]]:
    return re.findall(r"<td><div>([^<]+)</div><div class=\"value\">([^<]+)</div></td>", html)


def _assert_clean(text: str, foreign: tuple[str, ...], what: str) -> None:
    leaked = [name for name in foreign if name in text]
    assert not leaked, f"{what} names another tenant's {leaked}"


def test_each_recipient_gets_its_tenants_report_with_charts_and_pdf(env: Env) -> None:
    for tenant, msg in env.mails.items():
        html, text, images, pdf = _parts(msg)
        assert f"Paramedic report: {tenant}" == msg["Subject"]
        for key in SECTIONS:
            assert f'data-section="{key}"' in html, (tenant, key)
        cids = re.findall(r'src="cid:([^"]+)"', html)
        assert cids and set(cids) == set(images), (tenant, cids, list(images))
        assert all(png.startswith(b"\x89PNG") for png in images.values())
        assert pdf.startswith(b"%PDF")
        assert "Incidents:" in text


def test_a_space_report_holds_none_of_another_space_or_the_foundation(env: Env) -> None:
    own: dict[str, Tenant] = {"acme/prod": ACME, "globex/prod": GLOBEX}
    for tenant, t in own.items():
        other = GLOBEX if t is ACME else ACME
        html, text, _, pdf = _parts(env.mails[tenant])
        pdf_text = _pdf_text(pdf)
        for body, what in ((html, "html"), (text, "text"), (pdf_text, "pdf")):
            _assert_clean(body, (*other.names, ROUTER_ALERT, "gorouter"), f"{tenant} {what}")
        for name in (t.app, t.alert, t.pattern_surge):
            assert name in html and name in pdf_text, (tenant, name)
    html, _, _, _ = _parts(env.mails["foundation"])
    for name in (ACME.alert, GLOBEX.alert, ROUTER_ALERT, ACME.pattern_new, GLOBEX.pattern_new):
        assert name in html, name


def test_the_figures_are_read_from_the_data(env: Env) -> None:
    """acme/prod: two incidents (10 min resolved, 5 min ongoing), three actions of which two verified (1 and 2
    minutes to recovery), one new and one surging pattern, and the 5xx share and latency the seed wrote."""
    figures = dict(_figures(_parts(env.mails["acme/prod"])[0]))
    assert figures["Incidents"] == "2" and figures["Ongoing"] == "1"
    assert figures["Longest"] == "10m"
    assert figures["Actions"] == "3" and figures["Success rate"] == "66.7 %"
    assert figures["Median time to recovery"] == "1m" and figures["Slowest recovery"] == "2m"
    assert figures["New patterns"] == "1" and figures["Surging patterns"] == "1"
    html = _parts(env.mails["acme/prod"])[0]
    assert "20.0 %" in html  # checkout's 5xx share (ACME.error_ratio)
    foundation = dict(_figures(_parts(env.mails["foundation"])[0]))
    assert foundation["Incidents"] == "5" and foundation["Actions"] == "7"


def test_the_pdf_holds_the_same_figures_and_charts(env: Env) -> None:
    for tenant, msg in env.mails.items():
        html, _, images, pdf = _parts(msg)
        reader = pypdf.PdfReader(io.BytesIO(pdf))
        pdf_images = [img for page in reader.pages for img in page.images]
        assert len(pdf_images) == len(images), (tenant, len(pdf_images), len(images))
        assert all(img.image is not None and img.image.size == (720, 300) for img in pdf_images)
        text = re.sub(r"\s+", " ", _pdf_text(pdf))
        for label, value in _figures(html):
            assert f"{label}: {value}" in text, (tenant, label, value)


def _inline(html: str, images: dict[str, bytes]) -> str:
    """What a mail client shows: cid: references resolved to the related parts."""
    for cid, png in images.items():
        html = html.replace(f"cid:{cid}", "data:image/png;base64," + base64.b64encode(png).decode())
    return html


def _charts_and_sections(frame: Any) -> tuple[list[str], list[int]]:
    sections = frame.eval_on_selector_all("section.report-section h2", "els => els.map(e => e.textContent)")
    widths = frame.eval_on_selector_all("img.chart", "els => els.map(e => e.complete ? e.naturalWidth : 0)")
    return sections, widths


def test_the_received_html_and_the_preview_open_in_chromium(env: Env) -> None:
    html, _, images, _ = _parts(env.mails["acme/prod"])
    with chromium() as browser:
        page = browser.new_page()
        page.set_content(_inline(html, images))
        sections, widths = _charts_and_sections(page)
        assert sections == ["Incidents", "Remediation", "Log patterns", "Top apps by errors and latency"]
        assert widths and all(w == 720 for w in widths), widths
        assert page.locator("img.chart").first.is_visible()
        # the UI's preview, logged in as acme/prod's user (a session cookie): its report in the frame
        preview = browser.new_page()
        preview.goto(f"{env.url}/login?next=/reports")
        preview.fill("#username", "acme-user")
        preview.fill("#password", env.password)
        preview.click("#login-submit")
        preview.wait_for_url("**/reports")
        preview.goto(f"{env.url}/reports?since=1d")
        preview.wait_for_selector("#report-frame")
        frame = preview.frame_locator("#report-frame")
        frame.locator("section.report-section").first.wait_for(timeout=30_000)
        inner = next(f for f in preview.frames if f != preview.main_frame)
        wait_until(lambda: len(_charts_and_sections(inner)[0]) == 4, 30, "the preview's sections")
        sections, widths = _charts_and_sections(inner)
        assert widths and all(w == 720 for w in widths), widths
        _assert_clean(inner.content(), (*GLOBEX.names, ROUTER_ALERT), "preview")


def test_render_api_is_scoped_to_the_principal(env: Env) -> None:
    foreign = (*GLOBEX.names, ROUTER_ALERT, "gorouter")
    own = env.get("acme-prod", "/api/v1/reports/render", since="1h")
    assert own.status_code == 200 and ACME.alert in own.text
    _assert_clean(own.text, foreign, "render")
    assert "default-src 'none'" in own.headers["content-security-policy"]
    assert "<script" not in own.text
    pdf = env.get("acme-prod", "/api/v1/reports/render", since="1h", format="pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    _assert_clean(_pdf_text(pdf.content), foreign, "render pdf")
    # attacker: another space, the whole org, the foundation, a malformed tenant: all 404, never 403
    for tenant in ("globex/prod", "globex", "acme", "foundation", "acme/prod/x", "acme/dev"):
        resp = env.get("acme-prod", "/api/v1/reports/render", since="1h", tenant=tenant)
        assert resp.status_code == 404, (tenant, resp.status_code)
        _assert_clean(resp.text, foreign, f"tenant={tenant}")
    assert env.get(None, "/api/v1/reports/render", since="1h").status_code == 401
    for since in ("8d", "0h", "abc", "1" * 13):
        assert env.get("acme-prod", "/api/v1/reports/render", since=since).status_code in {400, 422}, since
    # an org viewer may narrow to a space of its org; the admin to any tenant
    narrowed = env.get("acme-org", "/api/v1/reports/render", since="1h", tenant="acme/prod")
    assert narrowed.status_code == 200 and ACME.alert in narrowed.text
    globex = env.get("admin", "/api/v1/reports/render", since="1h", tenant="globex/prod")
    assert globex.status_code == 200 and GLOBEX.alert in globex.text
    _assert_clean(globex.text, (*ACME.names, ROUTER_ALERT), "admin tenant=globex/prod")


def test_cli_render_writes_html_and_pdf(env: Env) -> None:
    token_file = env.tmp / "acme.token"
    token_file.write_text(env.tokens["acme-prod"] + "\n")
    runner = CliRunner()
    for name in ("report.html", "report.pdf"):
        out = env.tmp / name
        args = [
            "report",
            "render",
            "--url",
            env.url,
            "--token-file",
            str(token_file),
            "--since",
            "1h",
            "--out",
        ]
        result = runner.invoke(cli_app, [*args, str(out)])
        assert result.exit_code == 0, result.output
        body = out.read_bytes()
        text = _pdf_text(body) if name.endswith(".pdf") else body.decode()
        assert ACME.alert in text
        _assert_clean(text, (*GLOBEX.names, ROUTER_ALERT), f"cli {name}")
    bad = runner.invoke(
        cli_app, ["report", "render", "--url", env.url, "--since", "1h", "--out", str(env.tmp / "x")]
    )
    assert bad.exit_code == 1 and "HTTP 401" in bad.output


def test_cli_send_mails_a_schedule_now_as_admin_only(env: Env) -> None:
    runner = CliRunner()
    tokens = {}
    for who in ("acme-prod", "admin"):
        tokens[who] = env.tmp / f"{who}.send-token"
        tokens[who].write_text(env.tokens[who])
    args = ["report", "send", "--url", env.url, "--schedule", "hourly", "--token-file"]
    refused = runner.invoke(cli_app, [*args, str(tokens["acme-prod"])])
    assert refused.exit_code == 1 and "HTTP 403" in refused.output
    before = len(list_mails(env.tmp / "mail"))
    sent = runner.invoke(cli_app, [*args, str(tokens["admin"])])
    assert sent.exit_code == 0 and "hourly: sent 3 of 3 reports" in sent.output, sent.output
    wait_until(lambda: len(list_mails(env.tmp / "mail")) == before + 3, 30, "three more reports at the sink")
