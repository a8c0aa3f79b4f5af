"""Email notifier against a real SMTP server (aiosmtpd, loopback): parts, inline chart, escaping, STARTTLS."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from alerting.base import Explanation
from alerting.model import Alert, Notification
from alerting.notify import EmailConfig, EmailNotifier, RetryPolicy, build_notifier, deliver
from alerting.notify.email import RenderedEmail

NOW = datetime(2026, 11, 27, 6, 0, 0, tzinfo=UTC)
STARTS = NOW - timedelta(minutes=5)
HOSTILE = '<script>alert("x")</script>'


@dataclass
class Sink:
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"


class LoopbackController(Controller):
    """aiosmtpd's Controller on port 0: learn the bound port before its start-up self-connection."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        super()._trigger_server()  # type: ignore[no-untyped-call]


def _port(controller: Controller) -> int:
    return int(controller.port)


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    controller = LoopbackController(sink, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        yield sink, _port(controller)
    finally:
        controller.stop()


class FixedExplainer:
    def __init__(self) -> None:
        t0 = STARTS.timestamp() - 1800
        self.explanation = Explanation(
            values={"value": 0.12, "threshold": 0.05},
            series=[
                (
                    {"__name__": "ratio", "app": "payments-api"},
                    [(t0 + i * 30, 0.01 + (0.11 if i > 60 else 0)) for i in range(80)],
                )
            ],
            log_patterns=[
                {"template": "GET /pay <*> 500 " + HOSTILE, "count": 412, "sample": "x", "new": True},
                {"template": "GET /health 200", "count": 9000, "sample": "y", "new": False},
            ],
            events=[{"kind": "deployment", "time": STARTS - timedelta(minutes=2), "summary": "v42 pushed"}],
            links={"Dashboard": "http://dash/apps/payments-api", "Evil": "javascript:alert(1)"},
        )

    async def explain(self, alert: Alert) -> Explanation:
        return self.explanation


def _notification() -> Notification:
    labels = {"alertname": "Router5xxHigh", "app": "payments-api", "space": "prod", "evil": HOSTILE}
    alert = Alert(labels, {"summary": f"5xx ratio high {HOSTILE}", "description": "d & e"}, STARTS)
    return Notification(
        "mail",
        "firing",
        [alert],
        {"alertname": "Router5xxHigh"},
        labels,
        dict(alert.annotations),
        "http://am",
        "{}",
    )


def _parts(msg: EmailMessage) -> tuple[str, str, dict[str, bytes], EmailMessage]:
    assert msg.get_content_type() == "multipart/alternative"
    text_part, related = list(msg.iter_parts())
    assert isinstance(text_part, EmailMessage) and isinstance(related, EmailMessage)
    assert text_part.get_content_type() == "text/plain"
    if related.get_content_type() == "text/html":  # no inline images
        return text_part.get_content(), related.get_content(), {}, related
    assert related.get_content_type() == "multipart/related"
    html_part, *images = list(related.iter_parts())
    assert isinstance(html_part, EmailMessage)
    pngs: dict[str, bytes] = {}
    for img in images:
        assert isinstance(img, EmailMessage) and img.get_content_type() == "image/png"
        payload = img.get_content()
        assert isinstance(payload, bytes)
        pngs[str(img["Content-ID"]).strip("<>")] = payload
    return text_part.get_content(), html_part.get_content(), pngs, related


async def test_email_parts_chart_and_escaping(smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    cfg = EmailConfig(to=["ops@example.org"], sender="paramedic@example.org", port=port, security="plain")
    notifier = EmailNotifier(cfg, explainer=FixedExplainer(), now=lambda: NOW)
    result = await deliver(notifier, _notification(), RetryPolicy(deadline_s=10))
    assert result.ok, result
    [msg] = sink.messages
    assert sink.envelopes[0].rcpt_tos == ["ops@example.org"]
    subject = str(msg["Subject"])
    assert subject.startswith("[FIRING:1] Router5xxHigh") and "payments-api / prod" in subject
    text, html, pngs, _ = _parts(msg)
    # the chart: a real PNG, referenced by its Content-ID
    [(cid, png)] = pngs.items()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png[12:16] == b"IHDR"
    assert f'src="cid:{cid}"' in html
    # the numbers, log patterns, events, links
    for part in (text, html):
        assert "0.12" in part and "0.05" in part
        assert "v42 pushed" in part and "deployment" in part
        assert "http://dash/apps/payments-api" in part
        assert "412" in part and "NEW" in part
    # hostile values are escaped in HTML, and a javascript: link is neutralised
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "javascript:" not in html
    assert "d &amp; e" in html
    assert HOSTILE in text  # plain text is not HTML: shown verbatim


async def test_operator_template_override(smtp: tuple[Sink, int], tmp_path: Path) -> None:
    sink, port = smtp
    (tmp_path / "subject.txt.j2").write_text("ALERT {{ title }} ({{ items | length }})\n")
    (tmp_path / "email.html.j2").write_text("<p>{{ items[0].labels.evil }}</p>\n")
    cfg = EmailConfig(
        to=["a@example.org"], sender="p@example.org", port=port, security="plain", templates_dir=tmp_path
    )
    notifier = build_notifier(cfg)
    assert (await notifier.notify(_notification())).ok
    [msg] = sink.messages
    assert str(msg["Subject"]) == "ALERT Router5xxHigh (1)"
    _, html, pngs, _ = _parts(msg)
    assert pngs == {}  # no explainer
    assert html.strip() == "<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</p>"


async def test_rejected_recipient_is_permanent_and_dead_server_retryable(smtp: tuple[Sink, int]) -> None:
    class Rejecting:
        async def handle_RCPT(
            self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
        ) -> str:
            return "550 no such user"

    controller = LoopbackController(Rejecting(), hostname="127.0.0.1", port=0)
    controller.start()
    try:
        cfg = EmailConfig(
            to=["x@example.org"], sender="p@example.org", port=_port(controller), security="plain"
        )
        result = await EmailNotifier(cfg).notify(_notification())
    finally:
        controller.stop()
    assert not result.ok and not result.retry and result.reason.startswith("smtp_recipients")
    dead = EmailConfig(to=["x@example.org"], sender="p@example.org", port=_port_closed(), security="plain")
    result = await EmailNotifier(dead).notify(_notification())
    assert not result.ok and result.retry


def _port_closed() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(crt), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, crt


async def test_starttls_with_auth(cert: tuple[Path, Path]) -> None:
    key, crt = cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret")

    sink = Sink()
    controller = LoopbackController(
        sink,
        hostname="127.0.0.1",
        port=0,
        tls_context=ctx,
        require_starttls=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        base = {
            "to": ["ops@example.org"],
            "sender": "p@example.org",
            "port": _port(controller),
            "ca_file": crt,
        }
        good = EmailConfig(security="starttls", username="paramedic", password="s3cret", **base)
        assert repr(good).count("s3cret") == 0
        result = await EmailNotifier(good, now=lambda: NOW).notify(_notification())
        assert result.ok, result
    finally:
        controller.stop()
    assert len(sink.messages) == 1
    assert logins[0] == (b"paramedic", b"s3cret")


@pytest.fixture
def tls_smtp(cert: tuple[Path, Path]) -> Iterator[tuple[Sink, int]]:
    """STARTTLS required (self-signed certificate for 127.0.0.1), AUTH only for paramedic / s3cret."""
    key, crt = cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"paramedic", b"s3cret")
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself

    sink = Sink()
    controller = LoopbackController(
        sink,
        hostname="127.0.0.1",
        port=0,
        tls_context=ctx,
        require_starttls=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        yield sink, _port(controller)
    finally:
        controller.stop()


async def test_failed_authentication_is_permanent_with_a_clear_reason(
    tls_smtp: tuple[Sink, int], cert: tuple[Path, Path]
) -> None:
    sink, port = tls_smtp
    cfg = EmailConfig(
        to=["ops@example.org"], sender="p@example.org", port=port, ca_file=cert[1],
        security="starttls", username="paramedic", password="wrong",
    )  # fmt: skip
    result = await EmailNotifier(cfg, now=lambda: NOW).notify(_notification())
    assert not result.ok and not result.retry, result
    assert result.reason.startswith("smtp_auth: 535"), result.reason
    assert "wrong" not in result.reason
    assert sink.messages == []


async def test_untrusted_certificate_fails_naming_it_unless_trusted_or_unverified(
    tls_smtp: tuple[Sink, int], cert: tuple[Path, Path]
) -> None:
    sink, port = tls_smtp
    base: dict[str, Any] = {
        "to": ["ops@example.org"], "sender": "p@example.org", "port": port, "security": "starttls",
        "username": "paramedic", "password": "s3cret",
    }  # fmt: skip
    result = await EmailNotifier(EmailConfig(**base), now=lambda: NOW).notify(_notification())
    assert not result.ok and not result.retry, result
    assert result.reason.startswith("tls: "), result.reason
    assert "certificate verify failed" in result.reason and "self-signed" in result.reason, result.reason
    assert sink.messages == []
    for extra in ({"verify_tls": False}, {"ca_file": cert[1]}):
        result = await EmailNotifier(EmailConfig(**base, **extra), now=lambda: NOW).notify(_notification())
        assert result.ok, (extra, result)
    assert len(sink.messages) == 2


async def test_alertmanager_email_tls_config_is_used(
    tls_smtp: tuple[Sink, int], cert: tuple[Path, Path]
) -> None:
    """An alertmanager.yml ``email_configs`` entry with ``tls_config``: its CA is trusted (it was ignored)."""
    from alerting.config import notifier_config  # noqa: PLC0415 -- only this test reads AM-style options
    from alerting.dispatch.config import GlobalConfig  # noqa: PLC0415

    sink, port = tls_smtp
    am_style: dict[str, Any] = {
        "type": "email", "to": "ops@example.org", "from": "p@example.org", "smarthost": f"127.0.0.1:{port}",
        "auth_username": "paramedic", "auth_password": "s3cret",
    }  # fmt: skip
    results = []
    for tls in ({"ca_file": str(cert[1]), "min_version": "TLS12"}, {"insecure_skip_verify": True}, None):
        options = am_style if tls is None else {**am_style, "tls_config": tls}
        notifier = build_notifier(notifier_config(options, GlobalConfig()))
        results.append(await notifier.notify(_notification()))
    assert [r.ok for r in results] == [True, True, False], results
    assert results[2].reason.startswith("tls: ")
    assert len(sink.messages) == 2


class TempfailThenOk(Sink):
    """Answers the first DATA with 451 (retry later), then stores messages as :class:`Sink` does; ``raw``
    keeps the bytes of every DATA."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.raw.append(envelope.original_content or b"")
        if len(self.raw) == 1:
            return "451 try again later"
        return await super().handle_DATA(server, session, envelope)


async def test_a_retry_sends_the_message_built_once_in_7bit_with_non_ascii_text() -> None:
    # building a big group's message is ~1 s of CPU: it is built once, off the event loop, and each retry
    # resends the same bytes (same Message-ID); 7-bit MIME keeps non-ASCII text intact on any server
    sink = TempfailThenOk()
    controller = LoopbackController(sink, hostname="127.0.0.1", port=0)
    controller.start()
    notifier = EmailNotifier(
        EmailConfig(
            to=["ops@example.org"], sender="paramedic@example.org", port=_port(controller), security="plain"
        ),
        now=lambda: NOW,
    )
    summary = "Zürich – 5xx ✓ 東京"
    note = _notification()
    note = replace(note, alerts=[replace(a, annotations={"summary": summary}) for a in note.alerts])
    renders = 0
    render = notifier.render

    async def counting(n: Notification) -> RenderedEmail:
        nonlocal renders
        renders += 1
        return await render(n)

    notifier.render = counting  # type: ignore[method-assign,assignment]
    try:
        result = await deliver(notifier, note, RetryPolicy(initial_backoff_s=0.01, deadline_s=10))
    finally:
        controller.stop()
    assert result.ok, result
    assert renders == 1
    assert len(sink.raw) == 2 and sink.raw[0] == sink.raw[1]  # the same message, byte for byte
    assert max(sink.raw[1]) < 0x80  # 7-bit on the wire
    [msg] = sink.messages
    text, html, _, _ = _parts(msg)
    assert summary in text and summary in html
