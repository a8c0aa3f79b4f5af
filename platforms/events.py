"""Platform events of one app, read safely: :class:`PlatformEventFeed` over a platform's ``EventSource``.

The app timeline (dashboard ``/apps/{app}/events.json``), the explained alert email and ``paramedic policy
backtest`` show what the platform did to an app (push, crash, restart, scale, deployment) beside
Paramedic's alerts and actions. They all read through one feed, which is:

* **bounded** — at most ``max_limit`` events per answer, a window of at most ``max_window_s`` (the newest
  part of a longer one) that ends no later than a minute from now;
* **tenant-safe** — it asks the source for one app and keeps only that app's events (an adapter that
  answers more is not trusted; the foreign ones are counted and dropped);
* **degrading** — a :class:`~platforms.base.PlatformError` (or any failure of the source) gives no events and
  a ``note`` saying why, never an exception: the timeline and the email are served anyway;
* **cached briefly** — answers (and failures) are kept ``ttl_s``; windows are widened to ``ttl_s`` buckets so
  a page refreshing every few seconds hits the cache, then cut back to what was asked.

It is thread-safe (the dashboard calls it from worker threads, the explainer from ``asyncio.to_thread``).
Metrics (``registry``): ``paramedic_platform_event_fetches_total{result}`` (``ok``, ``error``, ``cached``),
``paramedic_platform_event_fetch_errors_total{reason}``, ``paramedic_platform_events_total`` (events
returned) and ``paramedic_platform_events_foreign_total`` (other apps' events dropped).

:func:`summarize_events` says in a few words what happened (``2 crashes of instance 1 in the last 10 min``,
``deployment of revision 3 at 12:01``) for the email and the backtest.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from platforms.base import EventSource, PlatformError, PlatformEvent, TenantResolver
from platforms.instrument import per_registry

__all__ = ["EventsAnswer", "PlatformEventFeed", "event_feed", "event_record", "summarize_events"]

log = logging.getLogger("platforms.events")


_FUTURE_S = 60.0  # clock skew allowed between Paramedic and the platform


class _Families:
    def __init__(self, registry: CollectorRegistry) -> None:
        p = "paramedic_platform_event"
        self.fetches = Counter(
            p + "_fetches",
            "Platform event reads, by result (ok, error, cached).",
            ["result"],
            registry=registry,
        )
        self.errors = Counter(
            p + "_fetch_errors", "Failed platform event reads, by reason.", ["reason"], registry=registry
        )
        self.events = Counter(
            p + "s", "Platform events returned to the timeline, email and backtest.", registry=registry
        )
        self.foreign = Counter(
            p + "s_foreign", "Events of another app than the one asked for, dropped.", registry=registry
        )


_families = per_registry(_Families)


@dataclass(frozen=True, slots=True)
class EventsAnswer:
    """The app's events, oldest first, and a ``note`` when they are unavailable (then ``events`` is empty)."""

    events: list[PlatformEvent] = field(default_factory=list)
    note: str = ""


class PlatformEventFeed:
    """See the module docstring. ``source`` is the platform adapter (anything with ``events``)."""

    def __init__(
        self,
        source: EventSource,
        *,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
        ttl_s: float = 15.0,
        max_window_s: float = 7 * 86400.0,
        max_limit: int = 200,
        cache_entries: int = 256,
    ) -> None:
        self._source = source
        self._fams = _families(registry if registry is not None else CollectorRegistry())
        self._clock = clock
        self._ttl_s = max(ttl_s, 0.0)
        self._max_window_s = max_window_s
        self._max_limit = max(1, max_limit)
        self._entries = max(1, cache_entries)
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, float, float, int], tuple[float, EventsAnswer]] = OrderedDict()

    def _bucket(self, since: float, until: float) -> tuple[float, float]:
        if self._ttl_s <= 0:
            return since, until
        b = self._ttl_s
        return math.floor(since / b) * b, math.ceil(until / b) * b

    def _read(self, app: str, since: float, until: float, limit: int) -> EventsAnswer:
        try:
            got = self._source.events(app, since, until, limit)
        except PlatformError as exc:
            self._fams.fetches.labels("error").inc()
            self._fams.errors.labels("platform_error").inc()
            log.warning("platform events of %s unavailable: %s", app, exc)
            return EventsAnswer([], f"platform events unavailable: {exc}")
        except Exception as exc:  # an adapter's bug must not take the timeline or the email down
            self._fams.fetches.labels("error").inc()
            self._fams.errors.labels(type(exc).__name__).inc()
            log.warning("platform events of %s failed: %r", app, exc)
            return EventsAnswer([], f"platform events unavailable: {type(exc).__name__}")
        self._fams.fetches.labels("ok").inc()
        mine = [e for e in got if isinstance(e, PlatformEvent) and e.app == app]
        if len(mine) != len(got):
            self._fams.foreign.inc(len(got) - len(mine))
        mine.sort(key=lambda e: e.time)
        return EventsAnswer(mine[-limit:])

    def fetch(self, app: str, since: float, until: float, limit: int = 100) -> EventsAnswer:
        """Events of ``app`` with ``since <= time <= until`` (unix s), the newest ``limit`` (at most
        ``max_limit``), oldest first."""
        limit = min(max(int(limit), 0), self._max_limit)
        now = self._clock()
        if not (math.isfinite(since) and math.isfinite(until)):
            return EventsAnswer()
        until = min(until, now + _FUTURE_S)  # nothing happened later than now: never ask for it
        since = max(since, until - self._max_window_s)
        if not app or limit == 0 or until < since:
            return EventsAnswer()
        lo, hi = self._bucket(since, until)
        key = (app, lo, hi, limit)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self._ttl_s:
                self._cache.move_to_end(key)
        if hit is not None and now - hit[0] < self._ttl_s:
            self._fams.fetches.labels("cached").inc()
            answer = hit[1]
        else:
            answer = self._read(app, lo, hi, limit)
            with self._lock:
                self._cache[key] = (now, answer)
                while len(self._cache) > self._entries:
                    self._cache.popitem(last=False)
        events = [e for e in answer.events if since <= e.time <= until][-limit:]
        self._fams.events.inc(len(events))
        return EventsAnswer(events, answer.note)

    def tenant_of(self, app: str) -> tuple[str, str] | None:
        """The platform's (org, space) of ``app`` when the source is a
        :class:`~platforms.base.TenantResolver`, else None (unknown): an alert's explainer shows a tenant's
        alert the events of an app only when the platform puts that app in the alert's org/space."""
        source = self._source
        return source.tenant_of(app) if isinstance(source, TenantResolver) else None

    def summary(self, app: str, since: float, until: float) -> tuple[list[str], str]:
        """:func:`summarize_events` of the app's events in ``[since, until]`` as of ``until``, and the note
        (non-empty when they are unavailable)."""
        answer = self.fetch(app, since, until, self._max_limit)
        return summarize_events(answer.events, until), answer.note

    def recent_events(self, app: str, start: datetime, end: datetime, limit: int) -> list[dict[str, Any]]:
        """:class:`alerting.notify.explain.EventSource`: the app's platform events in ``[start, end]``,
        newest first, as :func:`event_record` mappings. Unavailable: one record of kind ``note``."""
        answer = self.fetch(app, start.timestamp(), end.timestamp(), limit)
        out = [event_record(e) for e in reversed(answer.events)]
        if answer.note:
            out.append({"kind": "note", "source": "platform", "time": end, "summary": answer.note})
        return out


def event_record(e: PlatformEvent) -> dict[str, Any]:
    """``e`` as a plain mapping: ``source`` ("platform"), ``kind``, ``type``, ``time`` (aware datetime),
    ``t`` (unix s), ``summary``, ``actor``, ``details``."""
    return {
        "source": "platform",
        "kind": e.kind,
        "type": e.type,
        "time": datetime.fromtimestamp(e.time, UTC),
        "t": e.time,
        "summary": e.summary,
        "actor": e.actor,
        "details": dict(e.details),
    }


def event_feed(platform: object, **kwargs: Any) -> PlatformEventFeed | None:
    """A feed over ``platform`` when it implements :class:`~platforms.base.EventSource`, else None."""
    return PlatformEventFeed(platform, **kwargs) if isinstance(platform, EventSource) else None


def _minutes(seconds: float) -> str:
    m = max(1, math.ceil(seconds / 60))
    return f"{m} min" if m < 120 else f"{math.ceil(m / 60)} h"


def _hhmm(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M")


def _one(e: PlatformEvent) -> str:
    d = e.details
    by = f" by {e.actor}" if e.actor else ""
    if e.kind == "deployment":
        rev = d.get("revision_version") or d.get("revision") or d.get("version")
        what = f"deployment of revision {rev}" if rev else "deployment"
        state = f" ({d['state']})" if d.get("state") else ""
        return f"{what}{state} at {_hhmm(e.time)}{by}"
    if e.kind == "scale" and d.get("instances"):
        return f"scaled to {d['instances']} instances at {_hhmm(e.time)}{by}"
    if e.kind in ("push", "restart", "start", "stop"):
        return f"{e.kind} at {_hhmm(e.time)}{by}"
    return f"{e.kind} at {_hhmm(e.time)}: {e.summary}"


def summarize_events(events: Sequence[PlatformEvent], now: float, *, max_lines: int = 10) -> list[str]:
    """A few lines on ``events`` (oldest first) as of ``now``: crashes counted per instance (``2 crashes of
    instance 1 in the last 10 min``), every other event on its own line (``deployment of revision 3 at
    12:01``), in time order, at most ``max_lines``."""
    crashes: dict[str, list[float]] = {}
    lines: list[tuple[float, str]] = []
    for e in events:
        if e.kind == "crash":
            crashes.setdefault(e.details.get("index", e.details.get("instance", "")), []).append(e.time)
        else:
            lines.append((e.time, _one(e)))
    for index, times in crashes.items():
        n = len(times)
        who = f"instance {index}" if index != "" else "an instance"
        noun = "crash" if n == 1 else "crashes"
        lines.append((min(times), f"{n} {noun} of {who} in the last {_minutes(now - min(times))}"))
    lines.sort(key=lambda x: x[0])
    out = [text for _, text in lines]
    return (
        out if len(out) <= max_lines else [*out[: max_lines - 1], f"... and {len(out) - max_lines + 1} more"]
    )
