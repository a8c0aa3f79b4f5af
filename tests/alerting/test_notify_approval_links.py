"""Approval links reach the receiver's message only: email and webhook bodies get them from the subscribed
provider; the alerts (what the API and the dashboard read) never hold them; error reasons hold no secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import HttpUrl, SecretStr

from alerting.base import DecisionLinks
from alerting.model import Alert, Notification
from alerting.notify import (
    ApprovalLinkProviders,
    EmailConfig,
    EmailNotifier,
    WebhookConfig,
    WebhookNotifier,
)

NOW = datetime(2026, 11, 27, 6, 0, 0, tzinfo=UTC)
APPROVE = "https://pm.example/api/v1/actions/a1/approve?token=1790000000.deadbeef"
REJECT = "https://pm.example/api/v1/actions/a1/reject?token=1790000000.feedface"


class OneAction:
    """Links for the approval request of action ``a1`` only."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def decision_links(self, alert: Alert) -> DecisionLinks | None:
        self.asked.append(alert.labels.get("alertname", ""))
        if alert.labels.get("action_id") == "a1":
            return DecisionLinks(APPROVE, REJECT)
        return None


class Broken:
    def decision_links(self, alert: Alert) -> DecisionLinks | None:
        raise RuntimeError("provider bug")


def _alerts() -> list[Alert]:
    pending = Alert(
        {"alertname": "RemediationApprovalPending", "app": "web", "action_id": "a1"},
        {
            "summary": "p wants to restart web",
            "approval": "pending — decide at https://pm.example/remediation",
        },
        starts_at=NOW - timedelta(minutes=1),
        ends_at=NOW + timedelta(minutes=30),
    )
    other = Alert({"alertname": "AppDown", "app": "web"}, {"summary": "down"}, starts_at=NOW)
    return [pending, other]


def _notification(alerts: list[Alert]) -> Notification:
    return Notification(
        receiver="ops",
        status="firing",
        alerts=alerts,
        group_labels={"app": "web"},
        common_labels={"app": "web"},
        common_annotations={},
        external_url="https://pm.example",
        group_key='{}:{app="web"}',
    )


def _providers(*providers: object) -> ApprovalLinkProviders:
    hub = ApprovalLinkProviders()
    for p in providers:
        hub.subscribe(p)  # type: ignore[arg-type]
    return hub


def test_providers_first_answer_wins_and_a_broken_one_counts_as_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pending, other = _alerts()
    assert _providers().decision_links(pending) is None
    hub = _providers(Broken(), OneAction())
    assert hub.decision_links(pending) == DecisionLinks(APPROVE, REJECT)
    assert hub.decision_links(other) is None
    assert "provider bug" in caplog.text


async def test_email_carries_the_links_and_the_alerts_stay_clean() -> None:
    alerts = _alerts()
    before = [dict(a.annotations) for a in alerts]
    config = EmailConfig(to=["ops@example.com"], sender="pm@example.com", max_explained_alerts=0)
    notifier = EmailNotifier(config, now=lambda: NOW, approval_links=_providers(OneAction()))
    rendered = await notifier.render(_notification(alerts))
    assert APPROVE in rendered.text and REJECT in rendered.text
    html_approve = APPROVE.replace("&", "&amp;")
    assert f'href="{html_approve}"' in rendered.html and "Reject</a>" in rendered.html
    assert rendered.text.count("token=") == 2  # only the pending request's two links
    assert [dict(a.annotations) for a in alerts] == before


async def test_email_without_a_provider_has_no_links() -> None:
    config = EmailConfig(to=["ops@example.com"], sender="pm@example.com", max_explained_alerts=0)
    rendered = await EmailNotifier(config, now=lambda: NOW).render(_notification(_alerts()))
    assert "token=" not in rendered.text + rendered.html


def test_webhook_body_annotates_copies_of_the_pending_alert() -> None:
    alerts = _alerts()
    before = [dict(a.annotations) for a in alerts]
    notifier = WebhookNotifier(
        WebhookConfig(url=HttpUrl("http://hook.example/x")),
        now=lambda: NOW,
        approval_links=_providers(OneAction()),
    )
    body, content_type = notifier.body(_notification(alerts))
    payload = json.loads(body)
    assert content_type == "application/json"
    pending, other = payload["alerts"]
    assert pending["annotations"]["approve_url"] == APPROVE
    assert pending["annotations"]["reject_url"] == REJECT
    assert "approve_url" not in other["annotations"]
    assert "approve_url" not in payload["commonAnnotations"]
    assert [dict(a.annotations) for a in alerts] == before


def test_templated_webhook_body_sees_the_links() -> None:
    config = WebhookConfig(
        url=HttpUrl("http://hook.example/x"),
        body_template='{"text": {{ (alerts[0].annotations.approve_url) | tojson }}}',
    )
    notifier = WebhookNotifier(config, now=lambda: NOW, approval_links=_providers(OneAction()))
    body, _ = notifier.body(_notification(_alerts()))
    assert json.loads(body) == {"text": APPROVE}


async def test_webhook_error_reasons_hold_no_secret() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(
            f"cannot connect to {request.url} (Bearer {request.headers['authorization']})"
        )

    config = WebhookConfig(
        url=HttpUrl("http://hook:url-pass-123@hook.example/x"), bearer_token=SecretStr("bearer-456")
    )
    notifier = WebhookNotifier(config, now=lambda: NOW, transport=httpx.MockTransport(refuse))
    try:
        result = await notifier.notify(_notification(_alerts()))
    finally:
        await notifier.aclose()
    assert not result.ok and result.retry
    assert "url-pass-123" not in result.reason and "bearer-456" not in result.reason
    assert "<secret>" in result.reason


async def test_webhook_http_error_reason_holds_no_secret() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text=f"bad credentials {request.headers['authorization']}")

    config = WebhookConfig(url=HttpUrl("http://hook.example/x"), bearer_token=SecretStr("bearer-789"))
    notifier = WebhookNotifier(config, now=lambda: NOW, transport=httpx.MockTransport(echo))
    try:
        result = await notifier.notify(_notification(_alerts()))
    finally:
        await notifier.aclose()
    assert not result.ok and not result.retry
    assert "bearer-789" not in result.reason and result.reason.startswith("http_4xx: 401")
