"""platforms.events.PlatformEventFeed over a test EventSource: bounded, one app only, cached briefly, a note
instead of an error; summarize_events' wording."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from platforms.base import EventSource, PlatformEvent
from platforms.events import PlatformEventFeed, event_feed, summarize_events
from tests.support.event_source import RecordedEvents

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC).timestamp()
G1, G2 = "guid-shop", "guid-other-tenant"


def recorded() -> list[PlatformEvent]:
    return [
        PlatformEvent(T0 + 60, G1, "deployment", "audit.app.deployment.create", "rolling", "ci",
                      {"revision_version": "3"}),
        PlatformEvent(T0 + 300, G1, "crash", "audit.app.process.crash", "exit 137", "", {"index": "1"}),
        PlatformEvent(T0 + 420, G1, "crash", "audit.app.process.crash", "exit 137", "", {"index": "1"}),
        PlatformEvent(T0 + 450, G1, "scale", "audit.app.process.scale", "4", "alice", {"instances": "4"}),
        PlatformEvent(T0 + 400, G2, "crash", "audit.app.process.crash", "secret", "", {"index": "0"}),
    ]  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.t = T0 + 1000

    def __call__(self) -> float:
        return self.t


def test_fetch_is_bounded_oldest_first() -> None:
    source = RecordedEvents(recorded())
    feed = PlatformEventFeed(source, max_limit=3, clock=Clock())
    answer = feed.fetch(G1, T0, T0 + 900, limit=500)
    assert answer.note == ""
    assert [e.time for e in answer.events] == [T0 + 300, T0 + 420, T0 + 450]  # the newest 3, oldest first
    assert source.calls[0][0] == G1 and source.calls[0][3] == 3  # asked for one app, at most max_limit


def test_other_apps_events_never_pass() -> None:
    registry = CollectorRegistry()
    source = RecordedEvents(recorded(), leaky=True)  # a buggy adapter answering other apps' events
    feed = PlatformEventFeed(source, registry=registry, clock=Clock())
    answer = feed.fetch(G1, T0, T0 + 900)
    assert [e.app for e in answer.events] == [G1] * 4
    assert registry.get_sample_value("paramedic_platform_events_foreign_total") == 1
    assert feed.fetch("", T0, T0 + 900).events == []
    assert feed.fetch(G1, T0 + 900, T0).events == []


def test_window_is_capped_to_the_newest_part() -> None:
    source = RecordedEvents(recorded())
    feed = PlatformEventFeed(source, max_window_s=200, ttl_s=0)
    answer = feed.fetch(G1, 0, T0 + 450)
    assert [e.time for e in answer.events] == [T0 + 300, T0 + 420, T0 + 450]
    assert source.calls[0][1] == T0 + 250


def test_answers_are_cached_briefly() -> None:
    registry = CollectorRegistry()
    clock = Clock()
    source = RecordedEvents(recorded())
    feed = PlatformEventFeed(source, registry=registry, ttl_s=15, clock=clock)
    first = feed.fetch(G1, T0, T0 + 900)
    clock.t += 5
    again = feed.fetch(G1, T0 + 2, T0 + 899)  # the same 15 s buckets: served from the cache
    assert len(source.calls) == 1 and again.events == first.events
    assert registry.get_sample_value("paramedic_platform_event_fetches_total", {"result": "cached"}) == 1
    clock.t += 20
    feed.fetch(G1, T0, T0 + 900)
    assert len(source.calls) == 2


def test_platform_error_degrades_to_a_note() -> None:
    registry = CollectorRegistry()
    feed = PlatformEventFeed(RecordedEvents(recorded(), fail=True), registry=registry)
    answer = feed.fetch(G1, T0, T0 + 900)
    assert answer.events == [] and "platform events unavailable" in answer.note and "503" in answer.note
    labels = {"reason": "platform_error"}
    assert registry.get_sample_value("paramedic_platform_event_fetch_errors_total", labels) == 1
    lines, note = feed.summary(G1, T0, T0 + 900)
    assert lines == [] and note == answer.note
    [record] = feed.recent_events(
        G1, datetime.fromtimestamp(T0, UTC), datetime.fromtimestamp(T0 + 900, UTC), 5
    )
    assert record["kind"] == "note"


def test_summary_counts_crashes_per_instance_and_dates_deployments() -> None:
    events = [e for e in recorded() if e.app == G1]
    lines = summarize_events(events, now=T0 + 480)
    assert lines == [
        "deployment of revision 3 at 12:01 by ci",
        "2 crashes of instance 1 in the last 3 min",
        "scaled to 4 instances at 12:07 by alice",
    ]
    many = [PlatformEvent(T0 + i, G1, "restart", "audit.app.restart", "") for i in range(30)]
    assert len(summarize_events(many, T0 + 60, max_lines=5)) == 5


def test_event_feed_only_for_platforms_with_events() -> None:
    assert isinstance(RecordedEvents([]), EventSource)
    assert event_feed(RecordedEvents([])) is not None
    assert event_feed(object()) is None
