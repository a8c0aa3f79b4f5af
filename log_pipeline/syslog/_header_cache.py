"""The ingest path's RFC 5424 shortcut: a line whose header was seen before is parsed from a cache.

A sender's lines repeat their header: the same priority, host, app-name, procid, msgid and, for Cloud
Foundry's drains, the same structured data per app instance; within a second the timestamp repeats up to its
fraction.
:class:`HeaderCache` cuts a line at its first six spaces (``<PRI>VER``, timestamp, host, app-name, procid,
msgid, then structured data and message), and looks up

* the header tuple (with the structured data and the transport) -> the record's labels and fields, in the
  order :func:`~log_pipeline.syslog._record.to_record` builds them (they are built by it on a miss), and
* the timestamp's ``YYYY-MM-DDTHH:MM:SS`` -> seconds; the fraction and offset are read per line.

Each cache entry is validated on its miss with the pieces of the fast regex (:data:`._rfc5424.FAST_SD`,
``fast_days``, ``fast_offset``, ``fast_sd``), so a line takes the shortcut only where
:func:`~log_pipeline.syslog._rfc5424.fast_rfc5424` would accept it, and yields the same record as
``SyslogParser.to_record`` (``tests/log_pipeline/test_syslog_header_cache.py`` compares them on the fast
path's fuzz corpus). Everything else (invalid UTF-8, a header the regex refuses, a line over the size
limit) returns None and goes the full way. Both caches are bounded (4,096 entries each, cleared when full;
a header over 2,048 characters, structured data included, is not kept), so they hold a few MB at most.
"""

from __future__ import annotations

import re

from log_pipeline.model import FieldValue, LogRecord, RawMessage
from log_pipeline.syslog._message import SyslogMessage
from log_pipeline.syslog._record import to_record
from log_pipeline.syslog._rfc5424 import FAST_SD, fast_days, fast_offset, fast_sd

__all__ = ["HeaderCache"]

_PRI_VER = re.compile(r"<(0|[1-9]\d{0,2})>([1-9]\d{0,2})", re.ASCII)
_HEADER = re.compile(r"[!-~]{1,255} [!-~]{1,48} [!-~]{1,128} [!-~]{1,32}", re.ASCII)
_SECOND = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d):(\d\d):(\d\d)", re.ASCII)
_TAIL = re.compile(r"(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d)", re.ASCII)
_SD = re.compile(FAST_SD, re.ASCII)
_MAX_KEY_CHARS = 2048  # headers (structured data included) longer than this are validated but not cached

Labels = dict[str, str]
Fields = dict[str, FieldValue]
_Key = tuple[str, str, str, str, str, str, str]  # transport, <PRI>VER, host, app, procid, msgid, SD
_Entry = tuple[Labels, Fields]


def _second(stamp: str) -> int | None:
    """Unix seconds of ``YYYY-MM-DDTHH:MM:SS`` (UTC), None when the fast regex or its checks refuse it."""
    m = _SECOND.fullmatch(stamp)
    if m is None:
        return None
    date, hour, minute, second = m.groups()
    days = fast_days(date)
    hh, mi, ss = int(hour), int(minute), int(second)
    if days is None or hh > 23 or mi > 59 or ss > 59:
        return None
    return days * 86400 + hh * 3600 + mi * 60 + ss


def _entry(key: _Key, raw: RawMessage) -> _Entry | None:
    """The labels and fields of a header, built by ``to_record``; None when the fast regex refuses it."""
    _, pri_ver, host, app, procid, msgid, sd = key
    m = _PRI_VER.fullmatch(pri_ver)
    if m is None or int(m.group(1)) > 191 or _HEADER.fullmatch(f"{host} {app} {procid} {msgid}") is None:
        return None
    msg = SyslogMessage("rfc5424", int(m.group(1)), int(m.group(2)))
    msg.hostname = None if host == "-" else host
    msg.appname = None if app == "-" else app
    msg.procid = None if procid == "-" else procid
    msg.msgid = None if msgid == "-" else msgid
    if sd != "-":
        elements = fast_sd(sd)
        if elements is None:
            return None
        msg.structured_data = elements
    record = to_record(msg, raw, "")
    return record.labels, record.fields


def _split_sd(rest: str) -> tuple[str, str] | None:
    """(structured data, message) of what follows the msgid; None where the fast regex refuses it."""
    if rest[:1] == "-":
        end = 1
    else:
        m = _SD.match(rest)
        if m is None:
            return None
        end = m.end()
    if end < len(rest) and rest[end] != " ":
        return None
    return rest[:end], rest[end + 1 :]


class HeaderCache:
    """``record(raw, record_id)``: the record of a well-formed RFC 5424 line from cached headers, or None."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._max = max_entries
        self._headers: dict[_Key, _Entry | None] = {}
        self._seconds: dict[str, int | None] = {}

    def _timestamp_ns(self, stamp: str) -> int | None:
        if len(stamp) < 20:
            return None
        prefix = stamp[:19]
        secs = self._seconds.get(prefix)
        if secs is None:
            if prefix in self._seconds:
                return None  # refused before
            if len(self._seconds) >= self._max:
                self._seconds.clear()
            secs = self._seconds[prefix] = _second(prefix)
            if secs is None:
                return None
        tail = _TAIL.fullmatch(stamp, 19)
        if tail is None:
            return None
        frac, tz = tail.groups()
        offset = fast_offset(tz)
        if offset is None:
            return None
        return (secs - offset) * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac is not None else 0)

    def _header(self, key: _Key, raw: RawMessage) -> _Entry | None:
        entry = self._headers.get(key)
        if entry is not None or key in self._headers:
            return entry  # None: refused before
        entry = _entry(key, raw)
        if sum(map(len, key)) <= _MAX_KEY_CHARS:  # a huge header or structured data is not kept
            if len(self._headers) >= self._max:
                self._headers.clear()
            self._headers[key] = entry
        return entry

    def record(self, raw: RawMessage, record_id: str) -> LogRecord | None:
        try:
            text = raw.data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        parts = text.split(" ", 6)
        if len(parts) < 7:
            return None
        pri_ver, stamp, host, app, procid, msgid, rest = parts
        split = _split_sd(rest)
        if split is None:
            return None
        sd, message = split
        entry = self._header((raw.transport, pri_ver, host, app, procid, msgid, sd), raw)
        if entry is None:
            return None
        if stamp == "-":
            ts = raw.received_ns
        else:
            stamp_ns = self._timestamp_ns(stamp)
            if stamp_ns is None:
                return None
            ts = stamp_ns
        labels, fields = entry
        return LogRecord(record_id, ts, message, dict(labels), dict(fields))
