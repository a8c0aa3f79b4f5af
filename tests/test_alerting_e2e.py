"""Issue 5's "Done when" on a real demo: an errors fault fires the router 5xx rule within a few scrape
intervals, an explained email (chart, the app's log patterns, the numbers) reaches the demo's SMTP sink, the
Alertmanager v4 webhook is delivered, and the real ``amtool`` silences the alert through Paramedic's API."""

from __future__ import annotations

import json
import stat
import subprocess
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import httpx
import pytest

from tests.support.demo import Demo, running_demo
from tests.support.demo import paramedic_cli as _cli
from tests.support.servers import require_binary, wait_until

pytestmark = pytest.mark.integration

RULE = "AppRouter5xxRatioHigh"
SCRAPE_INTERVAL_S = 1.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(
        tmp_path_factory.mktemp("alerting-demo"), scrape_interval_s=SCRAPE_INTERVAL_S
    ) as running:
        yield running


def _alerts(demo: Demo) -> list[dict[str, Any]]:
    resp = httpx.get(f"{demo.api}/api/v2/alerts", params={"filter": f"alertname={RULE}"}, timeout=5)
    resp.raise_for_status()
    body: list[dict[str, Any]] = resp.json()
    return body


def _mails(demo: Demo) -> list[EmailMessage]:
    out = []
    for path in sorted((demo.data_dir / "mail").glob("*.eml")):
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if isinstance(msg, EmailMessage) and RULE in str(msg["Subject"]):
            out.append(msg)
    return out


def _webhooks(demo: Demo) -> list[dict[str, Any]]:
    bodies = [json.loads(p.read_text()) for p in sorted((demo.data_dir / "webhooks").glob("*.json"))]
    return [b for b in bodies if b.get("groupLabels", {}).get("alertname") == RULE]


@pytest.fixture(scope="module")
def fired(demo: Demo) -> float:
    """An errors fault on checkout, injected once per module; returns the seconds until the rule fired. A
    fixture, not the first test's opening: every test that reads the firing alert gets it, whichever runs
    first or alone (``-k``), rather than relying on an earlier test having injected the fault."""
    # the router must have seen checkout's traffic before the fault, or the ratio has no denominator
    expr = 'app:router_requests:rate1m{app="checkout"}'

    def rate() -> float:
        body = httpx.get(f"{demo.api}/api/v1/query", params={"query": expr}, timeout=5).json()
        return max((float(r["value"][1]) for r in body["data"]["result"]), default=0.0)

    wait_until(lambda: rate() > 1.0, 45, "checkout's request rate recorded by the local pack")

    out = _cli("demo", "fault", "--data-dir", str(demo.data_dir), "--app", "checkout", "--kind", "errors",
               "--rate", "0.5", "--for-s", "120")  # fmt: skip
    assert out.returncode == 0, out.stderr
    injected = time.monotonic()

    # fires within a few scrape intervals (rate window fills, `for:` two intervals, one evaluation)
    wait_until(lambda: any(a["labels"].get("app") == "checkout" for a in _alerts(demo)), 30, f"{RULE} firing")
    return time.monotonic() - injected


def test_errors_fault_fires_notifies_and_amtool_silences(demo: Demo, fired: float) -> None:
    amtool = require_binary("amtool")
    rules = httpx.get(f"{demo.api}/api/v1/rules", params={"type": "alert"}, timeout=5).json()
    names = {r["name"] for g in rules["data"]["groups"] for r in g["rules"]}
    assert RULE in names, names
    assert fired < 20 * SCRAPE_INTERVAL_S, f"fired {fired:.1f}s after the fault"
    alert = next(a for a in _alerts(demo) if a["labels"]["app"] == "checkout")
    assert alert["status"]["state"] == "active" and alert["receivers"] == [{"name": "demo"}]
    assert alert["labels"]["severity"] == "critical"

    # the explained email: numbers, chart inline, the app's error log pattern
    wait_until(lambda: bool(_mails(demo)), 30, "the alert's email at the demo's SMTP sink")
    mail = _mails(demo)[0]
    assert "checkout" in str(mail["Subject"]) and "FIRING" in str(mail["Subject"])
    text_part = mail.get_body(("plain",))
    html_part = mail.get_body(("html",))
    assert text_part is not None and html_part is not None
    text = text_part.get_content()
    assert "Threshold: 0.05" in text
    value = float(text.split("Value: ", 1)[1].split()[0])
    assert value > 0.05, text  # the ratio at the firing time, above the threshold
    assert "of requests answered 5xx" in text
    assert "WARNING sample_app.access" in text and "status=<*>" in text, text  # the app's error log pattern
    images = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert images
    png = images[0].get_content()
    assert isinstance(png, bytes) and png.startswith(b"\x89PNG\r\n\x1a\n")
    cid = str(images[0]["Content-ID"]).strip("<>")
    assert f"cid:{cid}" in html_part.get_content()

    # the webhook: Alertmanager v4 JSON
    wait_until(lambda: bool(_webhooks(demo)), 30, "the alert's webhook at the demo's sink")
    hook = _webhooks(demo)[0]
    assert hook["version"] == "4" and hook["status"] == "firing" and hook["receiver"] == "demo"
    assert hook["groupKey"] and hook["truncatedAlerts"] == 0
    assert hook["alerts"][0]["labels"]["app"] == "checkout"
    assert hook["externalURL"] == demo.api

    # the real amtool silences it through Paramedic's Alertmanager v2 API
    silence = subprocess.run(
        [amtool, "--alertmanager.url", demo.api, f"--http.config.file={demo.amtool_config}", "silence", "add",
         f"alertname={RULE}", "--comment=test", "--duration=5m"], capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    assert silence.returncode == 0, silence.stderr
    silence_id = silence.stdout.strip()

    def silenced() -> bool:
        states = [a["status"] for a in _alerts(demo) if a["labels"]["app"] == "checkout"]
        return bool(states) and all(
            s["state"] == "suppressed" and silence_id in s["silencedBy"] for s in states
        )

    wait_until(silenced, 10, "the alert silenced by amtool's silence")
    query = subprocess.run(
        [amtool, "--alertmanager.url", demo.api, "silence", "query", "-q"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert silence_id in query.stdout.split()
    listing = _cli("demo", "mail", "--data-dir", str(demo.data_dir))
    assert listing.returncode == 0 and RULE in listing.stdout and "image/png" in listing.stdout


def test_rules_and_alerts_api_show_the_rule_engine(demo: Demo, fired: float) -> None:
    body = httpx.get(f"{demo.api}/api/v1/rules", timeout=5).json()
    groups = {g["name"]: g for g in body["data"]["groups"]}
    assert {"local-router", "local-instances", "local-host"} <= set(groups)
    assert groups["local-router"]["interval"] == SCRAPE_INTERVAL_S
    alerts = httpx.get(f"{demo.api}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    firing = [a for a in alerts if a["labels"]["alertname"] == RULE and a["state"] == "firing"]
    assert firing and firing[0]["labels"]["app"] == "checkout"


def test_demo_admin_token_is_private_and_authorises_writes(demo: Demo) -> None:
    token_file = demo.data_dir / "admin-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(demo.amtool_config.stat().st_mode) == 0o600
    assert str(token_file) in demo.proc.log_tail(200)  # the demo says where the token is
    alert = [{"labels": {"alertname": "TokenCheck", "app": "none"}}]
    refused = httpx.post(f"{demo.api}/api/v2/alerts", json=alert, timeout=5)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    ok = httpx.post(f"{demo.api}/api/v2/alerts", json=alert, headers=demo.auth_headers, timeout=5)
    assert ok.status_code == 200, ok.text
