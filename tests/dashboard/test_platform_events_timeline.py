"""``/apps/{app}/events.json`` shows the platform's own events of the app (kind ``platform``, marked by
source) beside Paramedic's, through the server's wiring (paramedic.dashboard.build_router) over a test
EventSource; a failing platform leaves the timeline served with a note."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient

from metrics_store.memory import MemoryStore
from paramedic.dashboard import build_router
from platforms.base import PlatformEvent
from platforms.events import PlatformEventFeed
from tests.support.event_source import RecordedEvents

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC).timestamp()
G1, G2 = "guid-shop", "guid-other-tenant"
EVENTS = [
    PlatformEvent(T0 + 60, G1, "push", "audit.app.droplet.create", "new droplet", "ci"),
    PlatformEvent(T0 + 300, G1, "crash", "audit.app.process.crash", "exited 137", "", {"index": "1"}),
    PlatformEvent(T0 + 400, G2, "crash", "audit.app.process.crash", "tenant-b-secret", "", {"index": "0"}),
    PlatformEvent(T0 + 500, G1, "scale", "audit.app.process.scale", "web: 4 instances", "alice"),
]  # fmt: skip


def _client(source: RecordedEvents | None) -> TestClient:
    app = FastAPI()
    feed = PlatformEventFeed(source) if source is not None else None
    app.include_router(build_router(MemoryStore(), dispatcher=None, platform=None, platform_events=feed))
    return TestClient(app)


def test_events_json_shows_the_apps_platform_events_marked_by_source() -> None:
    source = RecordedEvents(EVENTS, leaky=True)
    resp = _client(source).get(f"/apps/{G1}/events.json", params={"start": T0, "end": T0 + 3600})
    assert resp.status_code == 200
    body = resp.json()
    assert "notes" not in body
    assert [(e["t"], e["kind"], e["source"], e["type"]) for e in body["events"]] == [
        (T0 + 60, "platform", "platform", "push"),
        (T0 + 300, "platform", "platform", "crash"),
        (T0 + 500, "platform", "platform", "scale"),
    ]
    assert body["events"][2]["text"] == "scale: web: 4 instances (by alice)"
    assert "tenant-b-secret" not in resp.text
    assert {call[0] for call in source.calls} == {G1}


def test_events_json_survives_a_failing_platform_with_a_note() -> None:
    resp = _client(RecordedEvents(EVENTS, fail=True)).get(
        f"/apps/{G1}/events.json", params={"start": T0, "end": T0 + 3600}
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["events"] == []
    [note] = body["notes"]
    assert note.startswith("platform events unavailable") and "503" in note


def test_without_platform_events_the_answer_is_unchanged() -> None:
    resp = _client(None).get(f"/apps/{G1}/events.json", params={"start": T0, "end": T0 + 3600})
    assert resp.json() == {"events": []}


def test_absurd_windows_ask_the_platform_little_or_nothing() -> None:
    source = RecordedEvents(EVENTS)
    client = _client(source)
    for start, end in (("0", "inf"), ("5", "1"), ("nan", "1")):
        resp = client.get(f"/apps/{G1}/events.json", params={"start": start, "end": end})
        assert resp.status_code == 200 and resp.json() == {"events": []}
    assert source.calls == []
    assert (
        client.get(f"/apps/{G1}/events.json", params={"start": "-1e300", "end": "1e300"}).status_code == 200
    )
    [(_, since, until, limit)] = source.calls  # capped: the last week at most, up to about now
    assert until <= time.time() + 60 + 15 and until - since <= 7 * 86400 + 30 and limit <= 200
