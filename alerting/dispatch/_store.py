"""The alert store: one entry per fingerprint, merged like Alertmanager's ``types.Alert.Merge``.

An alert without ``endsAt`` gets ``now + resolve_timeout`` and is marked *timeout*: a later explicit end time
wins over it. The earliest start is kept; the younger update supplies labels, annotations and the end.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from alerting.model import Alert, fingerprint

__all__ = ["AlertStore", "StoredAlert", "stored_from_alert"]

_GO_ZERO_YEAR = 1


@dataclass(frozen=True, slots=True)
class StoredAlert:
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    generator_url: str
    updated_at: datetime
    timeout: bool
    fingerprint: str

    def resolved(self, now: datetime) -> bool:
        return self.ends_at <= now

    def merge(self, newer: StoredAlert) -> StoredAlert:
        """Alertmanager's Merge: ``newer`` is the later update."""
        if newer.updated_at < self.updated_at:
            return newer.merge(self)
        res = newer
        if self.starts_at < newer.starts_at:
            res = replace(res, starts_at=self.starts_at)
        if newer.resolved(newer.updated_at):
            if self.resolved(newer.updated_at) and self.ends_at > newer.ends_at:
                res = replace(res, ends_at=self.ends_at)
        elif self.ends_at > newer.ends_at and not self.timeout:
            res = replace(res, ends_at=self.ends_at)
        return res

    def to_alert(self, now: datetime) -> Alert:
        """The model alert for a notification: a firing alert's end time is not exposed (None)."""
        return Alert(
            labels=dict(self.labels),
            annotations=dict(self.annotations),
            starts_at=self.starts_at,
            ends_at=self.ends_at if self.resolved(now) else None,
            generator_url=self.generator_url,
        )


def _real(t: datetime | None) -> datetime | None:
    return None if t is None or t.year <= _GO_ZERO_YEAR else t


def stored_from_alert(alert: Alert, now: datetime, resolve_timeout: timedelta) -> StoredAlert:
    """Fill in missing times like Alertmanager's API: start = now (or the end), end = now + timeout."""
    starts, ends = _real(alert.starts_at), _real(alert.ends_at)
    timeout = ends is None
    if starts is None:
        starts = ends if ends is not None else now
    if ends is None:
        ends = now + resolve_timeout
    return StoredAlert(
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        starts_at=starts,
        ends_at=ends,
        generator_url=alert.generator_url,
        updated_at=now,
        timeout=timeout,
        fingerprint=fingerprint(alert.labels),
    )


class AlertStore:
    """Not locked: the dispatcher holds its lock around every call."""

    def __init__(self) -> None:
        self._alerts: dict[str, StoredAlert] = {}

    def put(self, alert: StoredAlert) -> StoredAlert:
        old = self._alerts.get(alert.fingerprint)
        if old is not None and (
            old.starts_at < alert.ends_at < old.ends_at or old.starts_at < alert.starts_at < old.ends_at
        ):
            alert = old.merge(alert)
        self._alerts[alert.fingerprint] = alert
        return alert

    def get(self, fp: str) -> StoredAlert | None:
        return self._alerts.get(fp)

    def active_count(self, now: datetime) -> int:
        """Alerts not resolved at ``now``."""
        return sum(1 for a in self._alerts.values() if not a.resolved(now))

    def all(self) -> list[StoredAlert]:
        return list(self._alerts.values())

    def gc(self, now: datetime, keep: set[str]) -> list[str]:
        """Drop resolved alerts except those in ``keep`` (still to be sent as resolved)."""
        gone = [fp for fp, a in self._alerts.items() if a.resolved(now) and fp not in keep]
        for fp in gone:
            del self._alerts[fp]
        return gone
