"""RFC 5424 parser: a hand-written scanner over bytes, error texts and columns compatible with go-syslog.

Layout: ``<PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]``.
Fast path: one compiled regex covers a well-formed header and structured data (the common case); it builds
the same message as the scanner and hands anything it does not accept (including every invalid input) to
the scanner. Scanner: header tokens are cut with ``bytes.find`` and checked with ``bytes.translate``; the
timestamp goes through one compiled regex (range checks afterwards) and only falls back to a byte-by-byte
walk to find the exact error column. In best-effort mode a failed parse still returns what was parsed
before the error when the priority and version are known (go-syslog's rule); the error is attached as
``message.error``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from log_pipeline.syslog._message import ParseError, SyslogMessage
from log_pipeline.syslog._time import days_from_civil, days_in_month, to_unix_ns

__all__ = [
    "FAST_SD",
    "fast_days",
    "fast_offset",
    "fast_rfc5424",
    "fast_sd",
    "parse_pri",
    "parse_rfc5424",
    "scan_rfc5424",
    "utf8_error_column",
]

ERR_PRIVAL = "expecting a priority value in the range 1-191 or equal to 0"
ERR_PRI = "expecting a priority value within angle brackets"
ERR_VERSION = "expecting a version value in the range 1-999"
ERR_TIMESTAMP = "expecting a RFC3339MICRO timestamp or a nil value"
ERR_HOSTNAME = "expecting an hostname (from 1 to max 255 US-ASCII characters) or a nil value"
ERR_APPNAME = "expecting an app-name (from 1 to max 48 US-ASCII characters) or a nil value"
ERR_PROCID = "expecting a procid (from 1 to max 128 US-ASCII characters) or a nil value"
ERR_MSGID = "expecting a msgid (from 1 to max 32 US-ASCII characters) or a nil value"
ERR_SD = (
    "expecting a structured data section containing one or more elements "
    '(`[id( key="value")*]+`) or a nil value'
)
ERR_SDID = (
    "expecting a structured data element id (from 1 to max 32 US-ASCII characters; "
    'except `=`, ` `, `]`, and `"`'
)
ERR_SDID_DUP = "duplicate structured data element id"
ERR_SDPARAM = (
    'expecting a structured data parameter (`key="value"`, both part from 1 to max 32 US-ASCII '
    'characters; key cannot contain `=`, ` `, `]`, and `"`, while value cannot contain `]`, '
    'backslash, and `"` unless escaped)'
)
ERR_ESCAPE = 'expecting chars `]`, `"`, and `\\` to be escaped within param value'
ERR_MSG_COMPLIANT = (
    "expecting a free-form optional message in UTF-8 (starting with or without BOM) "
    "or a free-form optional message in any encoding (starting without BOM)"
)
ERR_PARSE = "parsing error"

_HOSTNAME = (255, ERR_HOSTNAME, "hostname")
_APPNAME = (48, ERR_APPNAME, "appname")
_PROCID = (128, ERR_PROCID, "procid")
_MSGID = (32, ERR_MSGID, "msgid")
_PRINTUSASCII = bytes(range(0x21, 0x7F))
_SDNAME_RE = re.compile(rb"[!#-<>-\\\\^-~]{1,32}")  # printusascii except = SP ] "
_BOM = b"\xef\xbb\xbf"
_SP, _LT, _GT, _DASH, _LBR, _RBR, _DQ, _BS, _EQ = b' <>-[]"\\='

_VALUE_STOP = re.compile(rb'["\\\]]')
_TS = re.compile(rb"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:Z|([+-])(\d\d):(\d\d))")

# Fast path, over the input decoded as UTF-8 (input that is not valid UTF-8 goes to the scanner): PRI,
# VERSION, TIMESTAMP (or -), HOSTNAME, APP-NAME, PROCID, MSGID, SD (or -); the match ends at the end of the
# input or at the space before MSG. Range checks (PRI <= 191, calendar) follow. Only SD values and MSG may
# be non-ASCII, so a valid UTF-8 input decodes them exactly as the scanner does one by one.
_SDN = r"[!#-<>-\\^-~]{1,32}"
_SDV = r'[^"\\\]]*(?:\\["\\\]][^"\\\]]*)*'  # unrolled: no per-character alternation
FAST_SD = r"(?:\[" + _SDN + r"(?: " + _SDN + r'="' + _SDV + r'")*\])+'  # one or more SD elements
_FAST = re.compile(
    r"<(0|[1-9]\d{0,2})>([1-9]\d{0,2}) "
    r"(?:-|(\d{4}-\d\d-\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d)) "
    r"([!-~]{1,255}) ([!-~]{1,48}) ([!-~]{1,128}) ([!-~]{1,32}) "
    r"(?:-|(" + FAST_SD + r"))",
    re.ASCII,
)
# Over a structured-data span the fast regex accepted: one match per element, then one per parameter.
_FAST_ELEM = re.compile(r"\[(" + _SDN + r")((?: " + _SDN + r'="' + _SDV + r'")*)\]', re.ASCII)
_FAST_PARAM = re.compile(r" (" + _SDN + r')="(' + _SDV + r')"', re.ASCII)
_FAST_ESCAPE = re.compile(r"\\(.)", re.DOTALL)

# Byte-level grammar of a timestamp, for the error column: one entry per position, each a set of allowed
# bytes or a rule depending on the previous byte (two-digit ranges such as month 01-12).
_D = frozenset(b"0123456789")
_D19 = frozenset(b"123456789")


def _two(prev: int, rules: dict[int, frozenset[int]]) -> frozenset[int]:
    return rules.get(prev, frozenset())


_MONTH2 = {ord("0"): _D19, ord("1"): frozenset(b"012")}
_MDAY2 = {ord("0"): _D19, ord("1"): _D, ord("2"): _D, ord("3"): frozenset(b"01")}
_HOUR2 = {ord("0"): _D, ord("1"): _D, ord("2"): frozenset(b"0123")}


class _Fail(Exception):  # noqa: N818 - internal control flow, never escapes this module
    def __init__(self, text: str, column: int, reason: str) -> None:
        self.text = text
        self.column = column
        self.reason = reason


def _ts_column(d: bytes, p: int, n: int) -> int:
    """Offset of the first byte at which the timestamp at ``p`` stops matching RFC3339MICRO."""

    def need(allowed: frozenset[int]) -> None:
        nonlocal p
        if p >= n or d[p] not in allowed:
            raise _Fail(ERR_TIMESTAMP, p, "timestamp")
        p += 1

    def pair(first: frozenset[int], second: dict[int, frozenset[int]] | frozenset[int]) -> None:
        need(first)
        need(second if isinstance(second, frozenset) else _two(d[p - 1], second))

    for _ in range(4):
        need(_D)
    need(frozenset(b"-"))
    pair(frozenset(b"01"), _MONTH2)
    need(frozenset(b"-"))
    pair(frozenset(b"0123"), _MDAY2)
    need(frozenset(b"T"))
    sexa = frozenset(b"012345")
    pair(frozenset(b"012"), _HOUR2)
    need(frozenset(b":"))
    pair(sexa, _D)
    need(frozenset(b":"))
    pair(sexa, _D)
    if p < n and d[p] == ord("."):
        p += 1
        need(_D)
        for _ in range(5):
            if p < n and d[p] in _D:
                p += 1
    if p < n and d[p] == ord("Z"):
        return p + 1
    need(frozenset(b"+-"))
    pair(frozenset(b"012"), _HOUR2)
    need(frozenset(b":"))
    pair(sexa, _D)
    return p


def _timestamp(d: bytes, p: int, n: int, out: SyslogMessage) -> int:
    m = _TS.match(d, p)
    if m is None:
        _ts_column(d, p, n)  # raises at the exact column
        raise _Fail(ERR_PARSE, p, "timestamp")  # pragma: no cover - defensive
    year, month, day, hour, minute, second, frac, sign, oh, om = m.groups()
    mo, dd, hh, mi, ss = int(month), int(day), int(hour), int(minute), int(second)
    offset = 0
    if sign is not None:
        ohh, omm = int(oh), int(om)
        if ohh > 23 or omm > 59:
            _ts_column(d, p, n)
        offset = (ohh * 3600 + omm * 60) * (-1 if sign == b"-" else 1)
    if not (1 <= mo <= 12 and 1 <= dd <= 31 and hh <= 23 and mi <= 59 and ss <= 59):
        _ts_column(d, p, n)
    end = m.end()
    yy = int(year)
    if dd > days_in_month(yy, mo):
        raise _Fail(f'parsing time "{d[p:end].decode("ascii")}": day out of range', end, "timestamp")
    frac_ns = int(frac.ljust(9, b"0")) if frac is not None else 0
    out.timestamp_ns = to_unix_ns(yy, mo, dd, hh, mi, ss, frac_ns, offset)
    out.tz_offset_s = offset
    return end


def parse_pri(d: bytes, n: int) -> tuple[int, int]:
    """``(priority, offset after '>')`` of the ``<PRI>`` at the start of ``d``."""
    if n == 0 or d[0] != _LT:
        raise _Fail(ERR_PRI, 0, "priority")
    p = 1
    c = d[1] if n > 1 else -1
    if c == 0x30:
        value, p = 0, 2
    elif 0x31 <= c <= 0x39:
        value, p = c - 0x30, 2
        if p < n and 0x30 <= d[p] <= 0x39:
            value, p = value * 10 + d[p] - 0x30, 3
            if p < n and 0x30 <= d[p] <= 0x39 and value * 10 + d[p] - 0x30 <= 191:
                value, p = value * 10 + d[p] - 0x30, 4
    else:
        raise _Fail(ERR_PRIVAL, 1, "priority")
    if p >= n or d[p] != _GT:
        raise _Fail(ERR_PRIVAL, p, "priority")
    return value, p + 1


def utf8_error_column(data: bytes, exc: UnicodeDecodeError, base: int) -> int:
    """Offset (plus ``base``) of the byte where an RFC 3629 UTF-8 automaton stops on ``data``."""
    lead = data[exc.start]
    return base + (exc.end if 0xC2 <= lead <= 0xF4 else exc.start)


def _field(d: bytes, p: int, n: int, spec: tuple[int, str, str]) -> tuple[str | None, int]:
    maxlen, err, reason = spec
    end = d.find(b" ", p)
    stop = n if end < 0 else end
    token = d[p:stop]
    if end < 0 or not token or len(token) > maxlen or token.translate(None, _PRINTUSASCII):
        q = p
        while q < n and q - p < maxlen and 0x21 <= d[q] <= 0x7E:
            q += 1
        raise _Fail(err, q, reason)
    return (None if token == b"-" else token.decode("ascii")), end + 1


def _unescape(raw: bytes) -> bytes:
    out = bytearray()
    i = 0
    while True:
        j = raw.find(b"\\", i)
        if j < 0:
            out += raw[i:]
            return bytes(out)
        out += raw[i:j]
        out.append(raw[j + 1])
        i = j + 2


class _SdState:
    __slots__ = ("elem", "has", "param", "sd")

    def __init__(self) -> None:
        self.sd: dict[str, dict[str, str]] = {}
        self.has = False
        self.elem = ""
        self.param = ""


def _param_value(d: bytes, p: int, n: int) -> tuple[bytes, int]:
    """Value starting at ``p`` (after the opening quote) -> (unescaped value, offset of the closing quote)."""
    start = p
    escaped = False
    while True:
        m = _VALUE_STOP.search(d, p)
        if m is None:
            raise _Fail(ERR_SDPARAM, n, "sd_param")
        q = m.start()
        c = d[q]
        if c == _DQ:
            value = d[start:q]
            return (_unescape(value) if escaped else value), q
        if c == _RBR:
            raise _Fail(ERR_ESCAPE, q, "sd_escape")
        if q + 1 >= n or d[q + 1] not in b'"]\\':
            raise _Fail(ERR_ESCAPE, q + 1, "sd_escape")
        escaped = True
        p = q + 2


def _structured_data(d: bytes, p: int, n: int, st: _SdState) -> int:
    sd = st.sd
    while p < n and d[p] == _LBR:
        p += 1
        m = _SDNAME_RE.match(d, p)
        q = p if m is None else m.end()
        if q == p or q >= n or d[q] not in b" ]":
            sd.pop(st.elem, None)
            if not sd:
                st.has = False
            raise _Fail(ERR_SDID, q, "sd_id")
        sdid = d[p:q].decode("ascii")
        if sdid in sd:
            raise _Fail(ERR_SDID_DUP, q, "sd_id_duplicate")
        params: dict[str, str] = {}
        sd[sdid] = params
        st.has = True
        st.elem = sdid
        p = q
        while d[p] == _SP:
            p += 1
            m = _SDNAME_RE.match(d, p)
            q = p if m is None else m.end()
            if q == p or q >= n or d[q] != _EQ:
                _param_error(st, q)
            st.param = name = d[p:q].decode("ascii")
            if q + 1 >= n or d[q + 1] != _DQ:
                _param_error(st, q + 1)
            raw, p = _param_value(d, q + 2, n)
            try:
                params[name] = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                _param_error(st, utf8_error_column(raw, exc, q + 2))
            p += 1
            if p >= n or d[p] not in b" ]":
                _param_error(st, p)
        p += 1  # ']'
    return p


def _param_error(st: _SdState, col: int) -> None:
    if st.sd:
        st.sd.get(st.elem, {}).pop(st.param, None)
    raise _Fail(ERR_SDPARAM, col, "sd_param")


def _message(d: bytes, p: int, n: int, out: SyslogMessage, compliant: bool) -> None:
    raw = d[p:]
    if not raw:
        return
    try:
        out.message = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if compliant and raw.startswith(_BOM):
            col = utf8_error_column(raw, exc, p)
            _set_message(out, d[p:col])
            raise _Fail(ERR_MSG_COMPLIANT, col, "message_encoding") from None
        _set_message(out, raw)


def _set_message(out: SyslogMessage, raw: bytes) -> None:
    if not raw:
        return
    try:
        out.message = raw.decode("utf-8")
    except UnicodeDecodeError:
        out.message = raw.decode("utf-8", "replace")
        out.message_bytes = raw


@lru_cache(maxsize=1024)
def fast_days(date: str) -> int | None:
    """Days since the epoch of ``YYYY-MM-DD``, None when not a calendar date."""
    yy, mo, dd = int(date[:4]), int(date[5:7]), int(date[8:])
    if not 1 <= mo <= 12 or not 1 <= dd <= days_in_month(yy, mo):
        return None
    return days_from_civil(yy, mo, dd)


@lru_cache(maxsize=256)
def fast_offset(tz: str) -> int | None:
    """Seconds east of UTC of ``Z`` or ``+hh:mm``, None when out of range."""
    if tz == "Z":
        return 0
    hh, mm = int(tz[1:3]), int(tz[4:])
    if hh > 23 or mm > 59:
        return None
    return (hh * 3600 + mm * 60) * (-1 if tz[0] == "-" else 1)


def fast_sd(sd: str) -> dict[str, dict[str, str]] | None:
    """Elements of a structured-data span the fast regex accepted; None on a duplicate element id."""
    elements: dict[str, dict[str, str]] = {}
    if "\\" not in sd:
        # Without escapes no value holds ``"`` or ``]``: elements are split at ``][`` and parameters at ``"``.
        for element in sd[1:-1].split("]["):
            sdid, _, params = element.partition(" ")
            if sdid in elements:
                return None  # the scanner reports it
            parts = (" " + params).split('"')  # ' name=', value, ' name=', value, ..., ''
            elements[sdid] = dict(zip([p[1:-1] for p in parts[:-1:2]], parts[1::2], strict=False))
        return elements
    for sdid, raw in _FAST_ELEM.findall(sd):
        if sdid in elements:
            return None
        elements[sdid] = {k: _FAST_ESCAPE.sub(r"\1", v) for k, v in _FAST_PARAM.findall(raw)}
    return elements


def fast_rfc5424(data: bytes) -> SyslogMessage | None:
    """The message when ``data`` is a well-formed, valid UTF-8 message the fast regex covers, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    m = _FAST.match(text)
    if m is None:
        return None
    pri, ver, date, hour, minute, second, frac, tz, host, app, proc, msgid, sd = m.groups()
    priority = int(pri)
    if priority > 191:
        return None
    out = SyslogMessage("rfc5424", priority, int(ver))
    if date is not None:
        days = fast_days(date)
        offset = fast_offset(tz)
        hh, mi, ss = int(hour), int(minute), int(second)
        if days is None or offset is None or hh > 23 or mi > 59 or ss > 59:
            return None
        secs = days * 86400 + hh * 3600 + mi * 60 + ss - offset
        out.timestamp_ns = secs * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac is not None else 0)
        out.tz_offset_s = offset
    if host != "-":
        out.hostname = host
    if app != "-":
        out.appname = app
    if proc != "-":
        out.procid = proc
    if msgid != "-":
        out.msgid = msgid
    if sd is not None:
        elements = fast_sd(sd)
        if elements is None:
            return None
        out.structured_data = elements
    end = m.end()
    if end < len(text):
        if text[end] != " ":
            return None
        if end + 1 < len(text):
            out.message = text[end + 1 :]
    return out


def parse_rfc5424(data: bytes, *, best_effort: bool = False, compliant_msg: bool = False) -> SyslogMessage:
    """Parse one RFC 5424 message (framing removed).

    Raises :class:`ParseError` for invalid input, unless ``best_effort`` and the priority and version were
    parsed: then the partial message is returned with ``error`` set. ``compliant_msg`` rejects a message
    that starts with a BOM but is not valid UTF-8 (RFC 5424 §6.4).
    """
    fast = fast_rfc5424(data)
    if fast is not None:
        return fast
    return scan_rfc5424(data, best_effort, compliant_msg)


def scan_rfc5424(  # noqa: PLR0912 - hot path: hand-written scanner
    data: bytes, best_effort: bool, compliant_msg: bool
) -> SyslogMessage:
    """The exact scanner: every input, exact error texts and columns."""
    out = SyslogMessage("rfc5424")
    n = len(data)
    st: _SdState | None = None
    try:
        out.priority, p = parse_pri(data, n)
        c = data[p] if p < n else -1
        if not 0x31 <= c <= 0x39:
            raise _Fail(ERR_VERSION, p, "version")
        version, p = c - 0x30, p + 1
        for _ in range(2):
            if p < n and 0x30 <= data[p] <= 0x39:
                version, p = version * 10 + data[p] - 0x30, p + 1
        out.version = version
        if p < n and 0x30 <= data[p] <= 0x39:
            raise _Fail(ERR_VERSION, p, "version")
        if p >= n or data[p] != _SP:
            raise _Fail(ERR_PARSE, p, "version")
        p += 1
        if p >= n:
            raise _Fail(ERR_TIMESTAMP, p, "timestamp")
        if data[p] == _DASH:
            p += 1
        else:
            p = _timestamp(data, p, n, out)
        if p >= n or data[p] != _SP:
            raise _Fail(ERR_PARSE, p, "timestamp")
        out.hostname, p = _field(data, p + 1, n, _HOSTNAME)
        out.appname, p = _field(data, p, n, _APPNAME)
        out.procid, p = _field(data, p, n, _PROCID)
        out.msgid, p = _field(data, p, n, _MSGID)
        if p >= n:
            raise _Fail(ERR_SD, p, "structured_data")
        c = data[p]
        if c == _DASH:
            p += 1
            nil_sd = True
        elif c == _LBR:
            st = _SdState()
            p = _structured_data(data, p, n, st)
            if st.has:
                out.structured_data = st.sd
            nil_sd = False
        else:
            raise _Fail(ERR_SD, p, "structured_data")
        if p < n:
            if data[p] != _SP:
                raise _Fail(ERR_PARSE if nil_sd else ERR_SD, p, "structured_data")
            _message(data, p + 1, n, out, compliant_msg)
    except _Fail as fail:
        if st is not None and st.has:
            out.structured_data = st.sd
        partial = out if best_effort and out.priority is not None and out.version is not None else None
        err = ParseError(fail.text, fail.column, fail.reason, partial)
        if partial is None:
            raise err from None
        out.error = err
    return out
