"""Test helpers for the dispatcher: a driven clock and a notifier that keeps what it got."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alerting.base import NotifyResult
from alerting.model import Alert, Notification

T0 = datetime(2026, 11, 27, 5, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


class Recorder:
    """A real (in-process) notifier: records every notification; can be told to fail."""

    def __init__(self) -> None:
        self.got: list[Notification] = []
        self.fail = False

    async def notify(self, notification: Notification) -> NotifyResult:
        if self.fail:
            return NotifyResult(ok=False, retry=False, reason="told to fail")
        self.got.append(notification)
        return NotifyResult(ok=True)


class Recorders:
    """``build_notifier`` handing out one Recorder per integration, keyed by its ``name`` option."""

    def __init__(self) -> None:
        self.by_name: dict[str, Recorder] = {}

    def __call__(self, cfg: dict[str, Any]) -> Recorder:
        return self.by_name.setdefault(str(cfg.get("name", cfg.get("url", "default"))), Recorder())

    def sent(self, name: str = "default") -> list[Notification]:
        return self.by_name[name].got if name in self.by_name else []


def alert(**labels: str) -> Alert:
    return Alert(labels=dict(labels), annotations={"summary": "s"})


async def no_retry(notifier: Any, notification: Notification) -> NotifyResult:
    result: NotifyResult = await notifier.notify(notification)
    return result
