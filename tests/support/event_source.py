"""A test double of :class:`platforms.base.EventSource`: a fixed list of platform events, answered the way the
Protocol says (one app or all, ``since <= time <= until``, newest ``limit``), or a PlatformError."""

from __future__ import annotations

from platforms.base import PlatformError, PlatformEvent


class EventsDownError(PlatformError):
    """What a failing platform API raises."""


class RecordedEvents:
    """``recorded``: every app's events; ``fail`` raises EventsDownError; ``leaky`` ignores ``app`` (a buggy
    adapter answering every app's events). ``calls`` records each request."""

    name = "recorded"

    def __init__(self, recorded: list[PlatformEvent], *, fail: bool = False, leaky: bool = False) -> None:
        self.recorded = recorded
        self.fail = fail
        self.leaky = leaky
        self.calls: list[tuple[str | None, float, float, int]] = []

    def events(self, app: str | None, since: float, until: float, limit: int = 200) -> list[PlatformEvent]:
        self.calls.append((app, since, until, limit))
        if self.fail:
            raise EventsDownError("GET /v3/audit_events: 503 Service Unavailable")
        found = [
            e
            for e in self.recorded
            if (self.leaky or app is None or e.app == app) and since <= e.time <= until
        ]
        return sorted(found, key=lambda e: e.time)[-limit:]
