"""Alertmanager ``time_intervals``: recurring windows (times, weekdays, days of month, months, years, zone).

Within one spec every given field must match; a named interval matches when any of its specs does. Times are
``HH:MM`` with the start inclusive and the end exclusive; negative days of month count from the month's end.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["CompiledInterval", "compile_spec"]

_WEEKDAYS = {
    n: i for i, n in enumerate(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])
}
_MONTHS = {n.lower(): i for i, n in enumerate(calendar.month_name) if n}
_RANGE_RE = re.compile(r"^(-?\w+)(?::(-?\w+))?$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")


def _minutes(text: str) -> int:
    m = _TIME_RE.match(text)
    if m is None:
        raise ValueError(f"{text!r}: want HH:MM")
    h, mi = int(m.group(1)), int(m.group(2))
    if h > 24 or mi > 59 or (h == 24 and mi != 0):
        raise ValueError(f"{text!r}: time out of range")
    return h * 60 + mi


def _ranges(
    items: list[str], names: dict[str, int] | None, lo: int, hi: int, what: str
) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for item in items:
        m = _RANGE_RE.match(item.strip())
        if m is None:
            raise ValueError(f"{what}: {item!r}: want a value or start:end")
        ends = [g for g in m.groups() if g is not None]
        vals: list[int] = []
        for raw in ends:
            e = raw.strip().lower()
            if names is not None and e in names:
                vals.append(names[e])
                continue
            try:
                v = int(e)
            except ValueError:
                raise ValueError(f"{what}: {item!r} is not a valid value") from None
            if not (lo <= abs(v) <= hi) or (v < 0 and lo > 0 and what != "days_of_month"):
                raise ValueError(f"{what}: {item!r} out of range")
            vals.append(v)
        if len(vals) == 1:
            vals.append(vals[0])
        if (vals[0] >= 0) == (vals[1] >= 0) and vals[0] > vals[1]:
            raise ValueError(f"{what}: {item!r}: start after end")
        out.append((vals[0], vals[1]))
    return out


@dataclass(frozen=True, slots=True)
class CompiledInterval:
    times: tuple[tuple[int, int], ...] | None
    weekdays: tuple[tuple[int, int], ...] | None
    days_of_month: tuple[tuple[int, int], ...] | None
    months: tuple[tuple[int, int], ...] | None
    years: tuple[tuple[int, int], ...] | None
    location: ZoneInfo | None

    def contains(self, t: datetime) -> bool:
        if self.location is not None:
            t = t.astimezone(self.location)
        if self.times is not None:
            minute = t.hour * 60 + t.minute
            if not any(a <= minute < b for a, b in self.times):
                return False
        if self.weekdays is not None and not any(a <= t.weekday() <= b for a, b in self.weekdays):
            return False
        if self.days_of_month is not None:
            last = calendar.monthrange(t.year, t.month)[1]
            hit = False
            for a, b in self.days_of_month:
                start = a if a > 0 else last + a + 1
                end = b if b > 0 else last + b + 1
                if start <= t.day <= min(end, last):
                    hit = True
                    break
            if not hit:
                return False
        if self.months is not None and not any(a <= t.month <= b for a, b in self.months):
            return False
        return self.years is None or any(a <= t.year <= b for a, b in self.years)


def compile_spec(
    *,
    times: list[tuple[str, str]] | None,
    weekdays: list[str] | None,
    days_of_month: list[str] | None,
    months: list[str] | None,
    years: list[str] | None,
    location: str | None,
) -> CompiledInterval:
    """Validate and compile one spec; raises ValueError naming the field."""
    tz = None
    if location is not None and location not in ("", "UTC", "Local"):
        try:
            tz = ZoneInfo(location)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"location: unknown time zone {location!r}") from e
    ctimes = None
    if times is not None:
        ctimes = []
        for start, end in times:
            a, b = _minutes(start), _minutes(end)
            if a >= b:
                raise ValueError(f"times: start_time {start} must be before end_time {end}")
            ctimes.append((a, b))
    return CompiledInterval(
        times=tuple(ctimes) if ctimes is not None else None,
        weekdays=tuple(_ranges(weekdays, _WEEKDAYS, 0, 6, "weekdays")) if weekdays is not None else None,
        days_of_month=tuple(_ranges(days_of_month, None, 1, 31, "days_of_month"))
        if days_of_month is not None
        else None,
        months=tuple(_ranges(months, _MONTHS, 1, 12, "months")) if months is not None else None,
        years=tuple(_ranges(years, None, 1, 9999, "years")) if years is not None else None,
        location=tz,
    )
