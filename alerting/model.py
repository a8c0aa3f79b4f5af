"""Alerts and notifications, with Alertmanager's semantics.

* An :class:`Alert` is identified by its label set (:meth:`Alert.fingerprint`: Alertmanager's FNV-1a 64
  hash over the sorted labels). ``ends_at`` in the future (or None) means firing; in the past, resolved.
* A :class:`Notification` is what a receiver gets for one alert group: the Alertmanager webhook v4 fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = ["Alert", "AlertStatus", "Notification", "fingerprint"]

AlertStatus = Literal["firing", "resolved"]

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEP = 0xFF


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's ``model.LabelSet.Fingerprint()`` as 16 hex digits (FNV-1a 64 over sorted name, 0xff,
    value, 0xff ...)."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name.encode(), labels[name].encode()):
            for byte in part:
                h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
            h = ((h ^ _SEP) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


@dataclass(slots=True)
class Alert:
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None  # None: firing until resolved or until the resolve timeout
    generator_url: str = ""

    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    def status(self, now: datetime) -> AlertStatus:
        return "resolved" if self.ends_at is not None and self.ends_at <= now else "firing"


@dataclass(slots=True, weakref_slot=True)  # weakly referenced by the notifiers' BuiltCache
class Notification:
    """One notification for one alert group (Alertmanager webhook v4 fields)."""

    receiver: str
    status: AlertStatus
    alerts: list[Alert]
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    external_url: str
    group_key: str
    truncated_alerts: int = 0
