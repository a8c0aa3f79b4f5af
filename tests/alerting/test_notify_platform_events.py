"""The explained email lists the platform's events of the alert's app (platforms.events.PlatformEventFeed over
a test EventSource): a summary of the window before the alert and the events themselves, marked by source;
a failing platform leaves a note and the email is still rendered."""

from __future__ import annotations

from datetime import UTC, datetime

from alerting.model import Alert, Notification
from alerting.notify import QueryExplainer
from alerting.notify.config import EmailConfig
from alerting.notify.email import EmailNotifier
from metrics_store.memory import MemoryStore
from platforms.base import PlatformEvent
from platforms.events import PlatformEventFeed
from tests.support.event_source import RecordedEvents

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC).timestamp()
STARTS = datetime.fromtimestamp(T0 + 600, UTC)  # the alert fired at 12:10
NOW = T0 + 900
G1, G2 = "guid-shop", "guid-other-tenant"
EVENTS = [
    PlatformEvent(T0 + 60, G1, "deployment", "audit.app.deployment.create", "rolling deployment", "ci",
                  {"revision_version": "3"}),
    PlatformEvent(T0 + 300, G1, "crash", "audit.app.process.crash", "exited 137", "", {"index": "1"}),
    PlatformEvent(T0 + 420, G1, "crash", "audit.app.process.crash", "exited 137", "", {"index": "1"}),
    PlatformEvent(T0 + 400, G2, "crash", "audit.app.process.crash", "tenant-b-secret", "", {"index": "0"}),
    PlatformEvent(T0 + 700, G1, "restart", "audit.app.restart", "restarted", "paramedic"),
]  # fmt: skip


def _notification() -> Notification:
    labels = {"alertname": "CFAppCrashLooping", "app": "shop", "app_guid": G1}
    alert = Alert(labels, {"summary": "shop keeps crashing"}, STARTS)
    return Notification("mail", "firing", [alert], labels, labels, {}, "http://am", "{}")


def _notifier(source: RecordedEvents) -> EmailNotifier:
    explainer = QueryExplainer(
        MemoryStore(), platform_events=PlatformEventFeed(source, clock=lambda: NOW), clock=lambda: NOW
    )
    cfg = EmailConfig(to=["ops@example.org"], sender="p@example.org", port=25, security="plain")
    return EmailNotifier(cfg, explainer=explainer, now=lambda: datetime.fromtimestamp(NOW, UTC))


async def test_email_lists_the_apps_platform_events_before_the_alert() -> None:
    source = RecordedEvents(EVENTS, leaky=True)  # even an adapter answering every app leaks nothing
    rendered = await _notifier(source).render(_notification())
    for body in (rendered.text, rendered.html):
        assert "Platform events before the alert" in body
        assert "deployment of revision 3 at 12:01 by ci" in body
        assert "2 crashes of instance 1 in the last 5 min" in body
        assert "tenant-b-secret" not in body
        assert "[platform]" in body  # the listed events are marked by source
    summary_line = next(line for line in rendered.text.splitlines() if "Platform events before" in line)
    assert "restart" not in summary_line  # after the alert: listed, not in the summary
    assert "restarted" in rendered.text
    assert all(app == G1 for app, *_ in source.calls)  # asked by the alert's app_guid, the CF app key


async def test_email_survives_a_failing_platform() -> None:
    rendered = await _notifier(RecordedEvents(EVENTS, fail=True)).render(_notification())
    assert "platform events unavailable" in rendered.text and "503" in rendered.text
    assert "shop keeps crashing" in rendered.text
    assert "crashes of instance" not in rendered.text


async def test_explainer_without_platform_events_is_unchanged() -> None:
    ex = await QueryExplainer(MemoryStore(), clock=lambda: NOW).explain(_notification().alerts[0])
    assert ex.platform_summary == [] and ex.platform_note == "" and ex.events == []
