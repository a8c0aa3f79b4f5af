"""``reports:`` in ``paramedic serve``: the scheduler starts with the server, its cron jobs are registered,
a schedule run mails through the SMTP settings of the alerting receiver ``reports.smtp_receiver`` names (a
real aiosmtpd server on loopback), and the render API and preview page are mounted behind the auth
middleware."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from paramedic.assembly import Paramedic
from paramedic.auth import TokenStore
from paramedic.config import parse_config
from tests.support.servers import free_port, wait_until

CONFIG = """
server: {{auth: {{tokens_file: tokens.json}}}}
metrics_store: {{type: embedded, path: metrics}}
alerting:
  data_dir: alerting
  route: {{receiver: ops}}
  receivers:
    - name: ops
      notifiers:
        - {{type: email, to: [ops@example.com], sender: reports@example.com, host: 127.0.0.1, port: {port},
           security: plain}}
reports:
  smtp_receiver: ops
  schedules: [{{name: daily, cron: "0 7 * * *", period_s: 86400}}]
  recipients:
    - {{tenant: foundation, to: [platform@example.com]}}
    - {{tenant: acme/prod, to: [acme@example.com]}}
"""


def _html(msg: Any) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None, "no HTML part"
    return str(part.get_content())


class _Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def test_serve_schedules_and_mails_reports_through_the_receivers_smtp(tmp_path: Path) -> None:
    inbox = _Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        server = Paramedic(
            parse_config(CONFIG.format(port=smtp.port)), base_dir=tmp_path, registry=CollectorRegistry()
        )
        tokens = TokenStore(tmp_path / "tokens.json")
        token, admin_token = tokens.create("ops", "viewer"), tokens.create("root", "admin")
        with TestClient(server.app, base_url="http://127.0.0.1") as client:
            scheduler = server.reports.scheduler
            assert scheduler is not None and scheduler._scheduler is not None
            assert [j.id for j in scheduler._scheduler.get_jobs()] == ["report:daily"]
            sent = client.portal.call(scheduler.run_schedule, "daily")  # type: ignore[union-attr]
            assert sent == 2
            wait_until(lambda: len(inbox.mails) == 2, 10, "two reports at the SMTP server")
            assert {m[0] for m in inbox.mails} == {"reports@example.com"}
            assert sorted(r for m in inbox.mails for r in m[1]) == [
                "acme@example.com",
                "platform@example.com",
            ]
            subjects = sorted(
                str(message_from_bytes(m[2], policy=policy.default)["Subject"]) for m in inbox.mails
            )
            assert subjects == ["Paramedic report: acme/prod", "Paramedic report: foundation"]
            # issue 15's sections are all in the served reports; the capacity outlook in the foundation's only
            sections = {
                str(msg["Subject"]).removeprefix("Paramedic report: "): set(
                    re.findall(r'data-section="([a-z_]+)"', _html(msg))
                )
                for msg in (message_from_bytes(m[2], policy=policy.default) for m in inbox.mails)
            }
            common = {"incidents", "remediation", "patterns", "top_apps", "slo"}
            assert sections == {"foundation": {*common, "capacity"}, "acme/prod": common}, sections
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/api/v1/reports/render", params={"since": "1h"}).status_code == 401
            page = client.get("/api/v1/reports/render", params={"since": "1h"}, headers=headers)
            assert page.status_code == 200 and 'data-section="incidents"' in page.text
            assert client.get("/reports", headers=headers).status_code == 200
            assert "paramedic_reports_sent_total 2.0" in client.get("/metrics").text
            # sending now: admin only (a viewer is refused by the route table), unknown schedules 404
            send = "/api/v1/reports/send"
            assert client.post(send, params={"schedule": "daily"}, headers=headers).status_code == 403
            admin = {"Authorization": f"Bearer {admin_token}"}
            assert client.post(send, params={"schedule": "weekly"}, headers=admin).status_code == 404
            answer = client.post(send, params={"schedule": "daily"}, headers=admin)
            assert answer.status_code == 200 and answer.json()["data"] == {
                "schedule": "daily",
                "sent": 2,
                "of": 2,
            }
            wait_until(lambda: len(inbox.mails) == 4, 10, "two more reports at the SMTP server")
        assert scheduler._scheduler is None  # stopped with the server
    finally:
        smtp.stop()


def test_reload_takes_up_new_schedules_and_recipients(tmp_path: Path) -> None:
    text = CONFIG.format(port=2525)
    path = tmp_path / "paramedic.yaml"
    path.write_text(text)
    server = Paramedic(parse_config(text), base_dir=tmp_path, registry=CollectorRegistry(), config_path=path)
    with TestClient(server.app, base_url="http://127.0.0.1"):
        scheduler = server.reports.scheduler
        assert scheduler is not None and scheduler._scheduler is not None
        path.write_text(
            text.replace('name: daily, cron: "0 7 * * *"', 'name: weekly, cron: "0 7 * * mon"').replace(
                "port: 2525", "port: 2526"
            )
        )
        server.reload()
        assert [j.id for j in scheduler._scheduler.get_jobs()] == ["report:weekly"]
        assert scheduler.smtp.port == 2526
        assert server.config.reports is not None and server.config.reports.schedules[0].name == "weekly"
