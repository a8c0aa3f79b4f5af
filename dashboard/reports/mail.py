"""A report as an email, sent with aiosmtplib.

Structure: ``multipart/mixed`` of (``multipart/alternative``: ``text/plain``, ``multipart/related``:
``text/html`` + one ``image/png`` per chart, referenced as ``cid:``) and the PDF attachment. The SMTP
settings are the alerting email notifier's (:class:`SmtpSettings`, built by the wiring from the receiver
named in ``reports.smtp_receiver``); SMTP and connection errors become :class:`ReportSendError`.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import aiosmtplib

from dashboard.reports.base import ReportError
from dashboard.reports.build import Report
from dashboard.reports.render import content_id, render_html, render_pdf, render_text

__all__ = ["ReportSendError", "SmtpSettings", "report_message", "send_message"]


class ReportSendError(ReportError):
    """The SMTP server refused the report or could not be reached."""


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how to send (the fields of ``alerting.notify.config.EmailConfig`` a report needs)."""

    sender: str
    host: str = "127.0.0.1"
    port: int = 25
    security: str = "starttls"  # plain | starttls | tls
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    verify_tls: bool = True
    timeout_s: float = 30.0


def _filename(report: Report) -> str:
    day = datetime.fromtimestamp(report.end_s, UTC).strftime("%Y-%m-%d")
    tenant = "".join(c if c.isalnum() or c in "-_" else "-" for c in report.tenant)[:60]
    return f"paramedic-report-{tenant}-{day}.pdf"


def report_message(report: Report, sender: str, to: list[str], *, subject: str | None = None) -> EmailMessage:
    """The email of ``report`` (HTML with inline charts, text alternative, PDF attached)."""
    msg = EmailMessage()
    msg["Subject"] = subject or f"{report.title}: {report.tenant}"
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(datetime.fromtimestamp(report.generated_s, UTC))
    msg["Message-ID"] = make_msgid(domain="paramedic")
    msg.set_content(render_text(report))
    msg.add_alternative(render_html(report, images="cid"), subtype="html")
    html_part = next(p for p in msg.iter_parts() if p.get_content_type() == "text/html")
    if not isinstance(html_part, EmailMessage):
        raise TypeError("the HTML part is not an EmailMessage")
    for key, png in report.charts.items():
        html_part.add_related(
            png, maintype="image", subtype="png", cid=f"<{content_id(key)}>", filename=f"{key}.png"
        )
    msg.add_attachment(render_pdf(report), maintype="application", subtype="pdf", filename=_filename(report))
    return msg


async def send_message(msg: EmailMessage, smtp: SmtpSettings) -> None:
    """Send ``msg`` to its To: addresses; raises :class:`ReportSendError`."""
    context = None
    if smtp.security != "plain" and smtp.ca_file is not None:
        context = ssl.create_default_context(cafile=str(smtp.ca_file))
    try:
        errors, _ = await aiosmtplib.send(
            msg,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password,
            use_tls=smtp.security == "tls",
            start_tls=smtp.security == "starttls",
            tls_context=context,
            validate_certs=smtp.verify_tls,
            timeout=smtp.timeout_s,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise ReportSendError(f"smtp {smtp.host}:{smtp.port}: {type(exc).__name__}: {exc}") from exc
    if errors:
        raise ReportSendError(f"smtp {smtp.host}:{smtp.port}: refused {sorted(errors)}")
