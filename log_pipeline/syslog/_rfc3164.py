"""RFC 3164 ("BSD syslog") parser with the usual heuristics.

``[<PRI>][TIMESTAMP ][HOSTNAME ][TAG[\\[PID\\]]: ]MSG``

* missing ``<PRI>`` -> 13 (user.notice), as RFC 3164 §4.3.3 says a relay must assume;
* timestamp ``Mmm dd hh:mm:ss`` (month in any case, day space-padded or not), optionally followed by a year
  (``Mmm dd yyyy hh:mm:ss`` and ``Mmm dd hh:mm:ss yyyy`` too); without a year the stamp is computed for
  year 0 and ``year_missing`` is set; an RFC 3339 stamp (rsyslog's default forwarding template) is accepted;
  no time zone means UTC;
* hostname: the first word after the timestamp, unless it already looks like a tag (``name:``/``name[pid]``);
  no hostname is taken when there was no timestamp;
* tag: up to 48 visible characters ending in ``:`` or ``[pid]`` (``appname``/``procid``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from log_pipeline.syslog._message import ParseError, SyslogMessage
from log_pipeline.syslog._rfc5424 import _Fail, _set_message, parse_pri
from log_pipeline.syslog._time import days_from_civil, days_in_month, to_unix_ns

__all__ = ["parse_rfc3164"]

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_STAMP = re.compile(
    rb"([A-Za-z]{3}) {1,2}(\d{1,2})(?: (\d{4}))? (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?: (\d{4})(?= ))?"
)
_RFC3339 = re.compile(rb"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?")
_TAG = re.compile(rb"([!-9;-Z\\^-~]{1,48}?)(?:\[([^\]\s]{1,128})\])?(?::(?: |$)|(?= |$))")


@lru_cache(maxsize=1024)
def _days(mon: bytes, day: bytes, year_b: bytes | None) -> int | None:
    """Days since the epoch of ``Mmm dd [yyyy]`` (year 0 without a year), None when not a date."""
    month = _MONTHS.get(mon.lower().decode("ascii"))
    year = int(year_b) if year_b else 0
    dd = int(day)
    if month is None or not 1 <= dd <= days_in_month(year or 4, month):
        return None
    return days_from_civil(year, month, dd)


def _stamp(d: bytes, p: int, out: SyslogMessage) -> int:
    m = _STAMP.match(d, p)
    if m is not None:
        mon, day, year1, hh, mi, ss, frac, year2 = m.groups()
        year_b = year1 or year2
        days = _days(mon, day, year_b)
        h, mn, s = int(hh), int(mi), int(ss)
        if days is None or h > 23 or mn > 59 or s > 60:
            return p
        frac_ns = int(frac.ljust(9, b"0")) if frac else 0
        out.timestamp_ns = (days * 86400 + h * 3600 + mn * 60 + min(s, 59)) * 1_000_000_000 + frac_ns
        out.year_missing = year_b is None
        return m.end()
    m = _RFC3339.match(d, p)
    if m is not None:
        year_s, mon_s, day_s, hh, mi, ss, frac, off = m.groups()
        yy, month, dd = int(year_s), int(mon_s), int(day_s)
        if not 1 <= month <= 12 or not 1 <= dd <= days_in_month(yy, month):
            return p
        offset = 0
        if off and off != b"Z":
            offset = (int(off[1:3]) * 3600 + int(off[4:6]) * 60) * (-1 if off[:1] == b"-" else 1)
        frac_ns = int(frac.ljust(9, b"0")) if frac else 0
        out.timestamp_ns = to_unix_ns(yy, month, dd, int(hh), int(mi), int(ss), frac_ns, offset)
        out.tz_offset_s = offset
        return m.end()
    return p


def parse_rfc3164(data: bytes, *, best_effort: bool = False) -> SyslogMessage:
    """Parse one RFC 3164 message. Only a malformed ``<PRI>`` is an error; everything after it is read
    heuristically. ``best_effort`` is accepted for symmetry with :func:`parse_rfc5424`: a bad PRI gives
    priority 13 and the whole input as the message, with ``error`` set."""
    out = SyslogMessage("rfc3164")
    n = len(data)
    p = 0
    if n and data[0] == 0x3C:
        try:
            out.priority, p = parse_pri(data, n)
        except _Fail as fail:
            err = ParseError(fail.text, fail.column, fail.reason)
            if not best_effort:
                raise err from None
            out.priority = 13
            out.error = err
            _set_message(out, data)
            return out
    else:
        out.priority = 13
    q = _stamp(data, p, out)
    had_stamp = q != p
    p = q
    while p < n and data[p] == 0x20:
        p += 1
    if had_stamp:
        end = data.find(b" ", p)
        if end > p:
            word = data[p:end]
            if not word.endswith(b":") and b"[" not in word:
                out.hostname = word.decode("utf-8", "replace")
                p = end + 1
    m = _TAG.match(data, p)
    if m is not None and (m.group(2) is not None or data[m.end(1) : m.end(1) + 1] == b":"):
        out.appname = m.group(1).decode("ascii")
        if m.group(2) is not None:
            out.procid = m.group(2).decode("utf-8", "replace")
        p = m.end()
        if p < n and data[p] == 0x20 and data[p - 1 : p] != b":":
            p += 1
    _set_message(out, data[p:])
    return out
