"""Email notifier: an explained notification over SMTP (aiosmtplib), HTML + text, inline chart.

Message structure: ``multipart/alternative`` of ``text/plain`` and ``multipart/related`` (``text/html`` +
one ``image/png`` per explained alert, referenced as ``cid:``). Templates (``subject.txt.j2``,
``email.txt.j2``, ``email.html.j2``) render in the sandboxed, autoescaping :class:`Renderer`; operators
override them with ``templates_dir``. The first ``max_explained_alerts`` alerts are explained (values,
threshold, series, log patterns, events, links) by the :class:`~alerting.base.Explainer`, each bounded by
``explain_timeout_s``; an explainer failure only leaves that part out. An alert asking for a human decision
(a pending remediation approval) gets Approve/Reject links (``item.decision``), minted by
``approval_links`` for this message only.

Security ``plain`` (no TLS), ``starttls`` (required) or ``tls`` (implicit, port 465); auth when
``username`` is set. SMTP outcomes: 4xx replies, timeouts and connection errors are retryable; 5xx replies,
rejected credentials and TLS verification failures are permanent.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import aiosmtplib
from aiosmtplib.email import extract_recipients, extract_sender, flatten_message

from alerting.base import AlertingError, ApprovalLinks, Explainer, Explanation, NotifyResult
from alerting.model import Alert, Notification
from alerting.notify._built import BuiltCache
from alerting.notify.chart import PALETTE, line_chart_png
from alerting.notify.config import EmailConfig
from alerting.notify.errors import TemplateError
from alerting.notify.render import Renderer

__all__ = ["EmailNotifier", "RenderedEmail"]

log = logging.getLogger(__name__)

_MAX_SUBJECT = 160
_WHERE_LABELS = ("app", "space", "org", "instance", "job")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    images: dict[str, bytes]  # content id (without <>) -> PNG


def _where(labels: dict[str, str]) -> str:
    return " / ".join(labels[k] for k in _WHERE_LABELS if labels.get(k))


def _series_name(labels: dict[str, str]) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{labels.get('__name__', '')}{{{inner}}}"


def _legend(expl: Explanation) -> list[dict[str, Any]]:
    out = []
    for i, (labels, points) in enumerate(expl.series):
        finite = [v for _, v in points if math.isfinite(v)]
        r, g, b = PALETTE[i % len(PALETTE)]
        out.append(
            {
                "name": _series_name(labels),
                "colour": f"#{r:02x}{g:02x}{b:02x}",
                "last": finite[-1] if finite else float("nan"),
                "max": max(finite) if finite else float("nan"),
            }
        )
    return out


@dataclass(frozen=True, slots=True)
class _Wire:
    sender: str
    recipients: list[str]
    utf8: bool  # an address is not ASCII: the server must offer SMTPUTF8
    data: bytes


def _flattened(msg: EmailMessage) -> _Wire:
    """``msg`` flattened for SMTP, with the envelope aiosmtplib would take from its headers."""
    sender = extract_sender(msg)
    if sender is None:
        raise ValueError("the message has no From header")
    recipients = extract_recipients(msg)
    utf8 = not (sender.isascii() and all(r.isascii() for r in recipients))
    return _Wire(sender, recipients, utf8, flatten_message(msg, utf8=utf8, cte_type="7bit"))


class EmailNotifier:
    def __init__(
        self,
        config: EmailConfig,
        *,
        explainer: Explainer | None = None,
        now: Callable[[], datetime] = _utcnow,
        renderer: Renderer | None = None,
        approval_links: ApprovalLinks | None = None,
    ) -> None:
        self._config = config
        self._explainer = explainer
        self._links = approval_links
        self._now = now
        self._renderer = renderer or Renderer(config.templates_dir)
        self._built: BuiltCache[_Wire] = BuiltCache()
        self._tls_context: ssl.SSLContext | None = None
        if config.security != "plain" and config.tls_config is not None:
            self._tls_context = config.tls_config.ssl_context()
        elif config.security != "plain" and config.ca_file is not None:
            self._tls_context = ssl.create_default_context(cafile=str(config.ca_file))

    @property
    def config(self) -> EmailConfig:
        return self._config

    async def _explain(self, alert: Alert) -> Explanation:
        if self._explainer is None:
            return Explanation()
        try:
            async with asyncio.timeout(self._config.explain_timeout_s):
                return await self._explainer.explain(alert)
        except (AlertingError, TimeoutError) as exc:
            log.warning("explaining %s failed: %r", alert.labels.get("alertname", "?"), exc)
            return Explanation()

    async def render(self, notification: Notification) -> RenderedEmail:
        """Subject, text, HTML and inline images for ``notification`` (raises :class:`TemplateError`).
        Explanations are awaited here; the charts and the templates (megabytes of text for a group of
        thousands of alerts) are made in worker threads, so the event loop is never held for them."""
        explained = notification.alerts[: self._config.max_explained_alerts]
        explanations: Sequence[Explanation] = await asyncio.gather(*(self._explain(a) for a in explained))
        images: dict[int, tuple[str, bytes]] = {}
        for i, (alert, expl) in enumerate(zip(explained, explanations, strict=True)):
            if expl.series:
                images[i] = (
                    f"chart{i}.{alert.fingerprint()}@paramedic",
                    await asyncio.to_thread(
                        line_chart_png,
                        [points for _, points in expl.series],
                        threshold=expl.values.get("threshold"),
                        marker=alert.starts_at.timestamp() if alert.starts_at else None,
                    ),
                )
        return await asyncio.to_thread(self._compose, notification, explanations, images)

    def _compose(
        self,
        notification: Notification,
        explanations: Sequence[Explanation],
        images: dict[int, tuple[str, bytes]],
    ) -> RenderedEmail:
        now = self._now()
        alerts = notification.alerts
        items: list[dict[str, Any]] = []
        for i, alert in enumerate(alerts):
            expl = explanations[i] if i < len(explanations) else Explanation()
            cid = images[i][0] if i in images else None
            status = alert.status(now)
            decision = self._links.decision_links(alert) if self._links is not None else None
            items.append(
                {
                    "name": alert.labels.get("alertname", "alert"),
                    "status": status,
                    "labels": alert.labels,
                    "annotations": alert.annotations,
                    "summary": alert.annotations.get("summary", ""),
                    "description": alert.annotations.get("description", ""),
                    # what to do: the rule's runbook text (the CF packs carry the documented response)
                    "runbook": alert.annotations.get("runbook", ""),
                    "runbook_url": alert.annotations.get("runbook_url", ""),
                    "starts_at": alert.starts_at,
                    "ends_at": alert.ends_at if status == "resolved" else None,
                    "fingerprint": alert.fingerprint(),
                    "app": alert.labels.get("app", ""),
                    "numbers": expl.values,
                    "legend": _legend(expl),
                    "log_patterns": expl.log_patterns,
                    "events": expl.events,
                    "platform_summary": expl.platform_summary,
                    "platform_note": expl.platform_note,
                    "links": expl.links,
                    "chart_cid": cid,
                    "decision": decision,  # DecisionLinks (approve_url, reject_url) or None
                }
            )
        firing = [a for a in alerts if a.status(now) == "firing"]
        labels = notification.common_labels or (alerts[0].labels if alerts else {})
        context: dict[str, Any] = {
            "status": "firing" if firing else "resolved",
            "firing": firing,
            "receiver": notification.receiver,
            "title": notification.group_labels.get("alertname") or labels.get("alertname", "alert"),
            "where": _where(labels),
            "items": items,
            "more": notification.truncated_alerts,
            "group_labels": notification.group_labels,
            "common_labels": notification.common_labels,
            "common_annotations": notification.common_annotations,
            "external_url": notification.external_url,
        }
        subject = re.sub(r"\s+", " ", self._renderer.render("subject.txt.j2", context)).strip()
        if len(subject) > _MAX_SUBJECT:
            subject = subject[: _MAX_SUBJECT - 1] + "…"
        return RenderedEmail(
            subject=subject,
            text=self._renderer.render("email.txt.j2", context),
            html=self._renderer.render("email.html.j2", context),
            images=dict(images.values()),
        )

    def message(self, rendered: RenderedEmail) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = rendered.subject
        msg["From"] = self._config.sender
        msg["To"] = ", ".join(self._config.to)
        msg["Date"] = format_datetime(self._now())
        msg["Message-ID"] = make_msgid(domain="paramedic")
        msg.set_content(rendered.text)
        msg.add_alternative(rendered.html, subtype="html")
        html_part = next(p for p in msg.iter_parts() if p.get_content_type() == "text/html")
        if not isinstance(html_part, EmailMessage):
            raise TypeError("the HTML part is not an EmailMessage")
        for cid, png in rendered.images.items():
            html_part.add_related(
                png, maintype="image", subtype="png", cid=f"<{cid}>", filename=cid.split("@", 1)[0] + ".png"
            )
        return msg

    async def notify(self, notification: Notification) -> NotifyResult:
        if not self._config.send_resolved:
            now = self._now()
            if all(a.status(now) == "resolved" for a in notification.alerts):
                return NotifyResult(ok=True, reason="skipped: only resolved alerts")
        wire = self._built.get(notification)  # a retry sends the message the first attempt built
        if wire is None:
            try:
                rendered = await self.render(notification)
            except TemplateError as exc:
                return NotifyResult(ok=False, retry=False, reason=f"template: {exc}")
            # MIME encoding and serialising megabytes (~1 s of CPU for a group of 2,000 alerts): in a worker
            # thread, as 7-bit MIME (valid for every server, with or without 8BITMIME)
            wire = await asyncio.to_thread(self._build_wire, rendered)
            self._built.put(notification, wire)
        return await self._send(wire)

    def _build_wire(self, rendered: RenderedEmail) -> _Wire:
        return _flattened(self.message(rendered))

    async def _send(self, wire: _Wire) -> NotifyResult:
        c = self._config
        try:
            errors, _ = await aiosmtplib.send(
                wire.data,
                sender=wire.sender,
                recipients=wire.recipients,
                mail_options=["SMTPUTF8"] if wire.utf8 else None,
                hostname=c.host,
                port=c.port,
                username=c.username,
                password=c.password.get_secret_value() if c.password is not None else None,
                use_tls=c.security == "tls",
                start_tls=c.security == "starttls",
                tls_context=self._tls_context,
                validate_certs=c.verify_tls and not (c.tls_config and c.tls_config.insecure_skip_verify),
                timeout=c.timeout_s,
            )
        except aiosmtplib.SMTPAuthenticationError as exc:
            return NotifyResult(ok=False, retry=False, reason=f"smtp_auth: {exc.code} {exc.message}")
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            transient = all(400 <= code < 500 for code in codes)
            return NotifyResult(ok=False, retry=transient, reason=f"smtp_recipients: {exc}")
        except aiosmtplib.SMTPResponseException as exc:
            return NotifyResult(
                ok=False, retry=400 <= exc.code < 500, reason=f"smtp: {exc.code} {exc.message}"
            )
        except aiosmtplib.SMTPTimeoutError as exc:
            return NotifyResult(ok=False, retry=True, reason=f"timeout: {exc}")
        except ssl.SSLCertVerificationError as exc:
            return NotifyResult(ok=False, retry=False, reason=f"tls: {exc}")
        except (aiosmtplib.SMTPException, OSError) as exc:
            return NotifyResult(ok=False, retry=True, reason=f"connect: {type(exc).__name__}: {exc}")
        if errors:
            log.warning("some recipients refused: %s", errors)
            return NotifyResult(ok=True, reason=f"partial: refused {sorted(errors)}")
        return NotifyResult(ok=True)
