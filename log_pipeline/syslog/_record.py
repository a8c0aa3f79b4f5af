"""SyslogMessage + RawMessage -> LogRecord (generic syslog labels and fields; enrichers refine them)."""

from __future__ import annotations

from functools import lru_cache

from log_pipeline.model import LEVELS, FieldValue, LogRecord, RawMessage
from log_pipeline.syslog._message import SyslogMessage
from log_pipeline.syslog._time import civil_from_days, days_from_civil, days_in_month

__all__ = ["resolve_year", "to_record"]

_NS_PER_DAY = 86400 * 1_000_000_000
_YEAR0_EPOCH_NS = days_from_civil(0, 1, 1) * _NS_PER_DAY


@lru_cache(maxsize=64)
def _year(year: int) -> tuple[int, bool]:
    """(Unix ns of January 1st, leap year) of ``year``."""
    return days_from_civil(year, 1, 1) * _NS_PER_DAY, days_in_month(year, 2) == 29


def resolve_year(year0_ns: int, received_ns: int) -> int:
    """Place a year-less RFC 3164 stamp (computed for year 0) in the receive year, or the year before when
    that would put it more than a day in the future (a December line received in January)."""
    year = civil_from_days(received_ns // _NS_PER_DAY)[0]  # the receive year (UTC)
    offset_in_year = year0_ns - _YEAR0_EPOCH_NS
    for candidate in (year, year - 1):
        start, leap = _year(candidate)
        shift = 0
        if not leap and offset_in_year >= 59 * _NS_PER_DAY:  # after Feb 29 of year 0 (a leap year)
            shift = -_NS_PER_DAY
        ts = start + offset_in_year + shift
        if ts <= received_ns + _NS_PER_DAY:
            return ts
    return received_ns  # pragma: no cover - the previous year is always in the past


def to_record(msg: SyslogMessage, raw: RawMessage, record_id: str) -> LogRecord:
    """Labels: ``host``, ``app`` (app-name/tag), ``level``, ``transport``. Fields: the header
    (``priority``, ``facility``, ``severity``, ``hostname``, ``appname``, ``procid``, ``msgid``), structured
    data as ``sd.<sd-id>.<param>``, ``truncated`` = 1 when the message was cut at the size limit.
    ``timestamp_ns`` is the header's time, the receive time when the header had none."""
    labels: dict[str, str] = {"transport": raw.transport}
    fields: dict[str, FieldValue] = {}
    if msg.priority is not None:
        fields["priority"] = msg.priority
        fields["facility"] = msg.priority >> 3
        fields["severity"] = msg.priority & 7
        labels["level"] = LEVELS[msg.priority & 7]
    if msg.hostname is not None:
        fields["hostname"] = labels["host"] = msg.hostname
    if msg.appname is not None:
        fields["appname"] = labels["app"] = msg.appname
    if msg.procid is not None:
        fields["procid"] = msg.procid
    if msg.msgid is not None:
        fields["msgid"] = msg.msgid
    if msg.structured_data:
        for sd_id, params in msg.structured_data.items():
            for name, value in params.items():
                fields[f"sd.{sd_id}.{name}"] = value
    if msg.truncated:
        fields["truncated"] = 1
    if msg.timestamp_ns is None:
        ts = raw.received_ns
    elif msg.year_missing:
        ts = resolve_year(msg.timestamp_ns, raw.received_ns)
    else:
        ts = msg.timestamp_ns
    return LogRecord(id=record_id, timestamp_ns=ts, message=msg.message or "", labels=labels, fields=fields)
