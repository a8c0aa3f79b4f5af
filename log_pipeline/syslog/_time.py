"""Calendar arithmetic for syslog timestamps: Unix nanoseconds without ``datetime`` on the hot path."""

from __future__ import annotations

__all__ = ["civil_from_days", "days_from_civil", "days_in_month", "format_rfc3339nano", "to_unix_ns"]

_NS = 1_000_000_000
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _MONTH_DAYS[month - 1]


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm; any year)."""
    year -= month <= 2
    era = year // 400  # floor division: also right for years before 1 AD
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def to_unix_ns(
    year: int, month: int, day: int, hour: int, minute: int, second: int, frac_ns: int, offset_s: int
) -> int:
    """Unix nanoseconds of a wall-clock time at UTC offset ``offset_s`` (east positive)."""
    secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s
    return secs * _NS + frac_ns


def format_rfc3339nano(unix_ns: int, offset_s: int = 0) -> str:
    """Go's ``time.RFC3339Nano`` rendering: trailing zeros of the fraction dropped, ``Z`` for offset 0."""
    secs, frac = divmod(unix_ns, _NS)
    secs += offset_s
    days, rem = divmod(secs, 86400)
    year, month, day = civil_from_days(days)
    hour, rem = divmod(rem, 3600)
    minute, second = divmod(rem, 60)
    out = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if frac:
        out += "." + f"{frac:09d}".rstrip("0")
    if offset_s == 0:
        return out + "Z"
    sign = "+" if offset_s > 0 else "-"
    oh, om = divmod(abs(offset_s) // 60, 60)
    return f"{out}{sign}{oh:02d}:{om:02d}"
