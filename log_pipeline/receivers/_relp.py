"""RELP server session, pure (no I/O): bytes in, messages and replies out.

Frames (librelp ``relpframe.c``): ``TXNR SP COMMAND SP DATALEN [SP DATA] LF`` — TXNR 1..9 digits, COMMAND
1..32 letters, DATALEN 1..9 digits; with DATALEN 0 the LF follows DATALEN directly. The client numbers its
frames 1, 2, 3, ... (wrapping after 999999999 to 1); the server answers each with ``TXNR rsp LEN 200 OK``.

Session: ``open`` (offers ``relp_version``, ``relp_software``, ``commands``; we answer ``200 OK`` with our
offers, ``commands=syslog``), then ``syslog`` frames, then ``close`` (answered with an empty ``rsp``, then the
connection ends). A protocol violation (bad syntax, TXNR out of order, DATALEN over the limit, unknown
command, ``syslog`` before ``open``) ends the session: every frame before it is still handled and acked, then
the server sends ``0 serverclose 0`` and closes — as librelp does when it drops a session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["SERVERCLOSE", "RelpProtocolError", "RelpSession", "RelpStep"]

SERVERCLOSE = b"0 serverclose 0\n"
MAX_TXNR = 999_999_999
SOFTWARE = b"paramedic,0.1.0,https://github.com/paramedic"

_HDR = re.compile(rb"([0-9]{1,9}) ([A-Za-z]{1,32}) ([0-9]{1,9})([ \n])")
_PREFIX = re.compile(rb"(?:[0-9]{1,9}(?: (?:[A-Za-z]{1,32}(?: [0-9]{0,9})?)?)?)?")
_MAX_HDR = 9 + 1 + 32 + 1 + 9 + 1


@dataclass(frozen=True, slots=True)
class RelpProtocolError:
    """Why a session ends: ``offset`` is the byte offset of the offending frame in the connection stream."""

    offset: int
    reason: str  # short metric label: "syntax", "txnr", "oversize", "command", "not_open", "offer"
    detail: str


@dataclass(slots=True)
class RelpStep:
    """Result of feeding one read: messages to spool, replies to send after they are durable, and whether
    the session ends after the replies (``close``) or with an error."""

    messages: list[bytes] = field(default_factory=list)
    replies: list[bytes] = field(default_factory=list)
    close: bool = False
    error: RelpProtocolError | None = None


def _rsp(txnr: int, body: bytes) -> bytes:
    if not body:
        return b"%d rsp 0\n" % txnr
    return b"%d rsp %d %s\n" % (txnr, len(body), body)


def _diagnose(rest: bytes) -> str:
    m = re.match(rb"[0-9]*", rest)
    digits = m.group(0) if m else b""
    if not digits:
        return f"frame must start with a transaction number, got {rest[:16]!r}"
    if len(digits) > 9 or rest[len(digits) : len(digits) + 1] != b" ":
        return f"invalid transaction number {rest[:16]!r} (1-9 digits, then SP)"
    pos = len(digits) + 1
    m = re.match(rb"[A-Za-z]*", rest[pos:])
    cmd = m.group(0) if m else b""
    if not cmd or len(cmd) > 32 or rest[pos + len(cmd) : pos + len(cmd) + 1] != b" ":
        return f"invalid command {rest[pos : pos + 40]!r} (1-32 letters, then SP)"
    pos += len(cmd) + 1
    m = re.match(rb"[0-9]*", rest[pos:])
    dl = m.group(0) if m else b""
    if not dl or len(dl) > 9:
        return f"invalid DATALEN {rest[pos : pos + 16]!r} (1-9 digits)"
    return f"invalid character {rest[pos + len(dl) : pos + len(dl) + 1]!r} after DATALEN"


class RelpSession:
    def __init__(self, max_frame_bytes: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.is_open = False
        self.expected_txnr = 1
        self._buf = bytearray()  # the start of an incomplete frame
        self._need = 0  # buffered bytes needed before that frame can be complete
        self._consumed = 0  # stream offset of self._buf[0]
        self._ended = False

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held back (0 between frames)."""
        return len(self._buf)

    def feed(self, data: bytes) -> RelpStep:  # noqa: PLR0912, PLR0915 - RELP framing, one pass
        """Handle one read. Linear time whatever the read sizes: while the buffered frame cannot be complete
        yet, a read only appends to the buffer; the frame is copied out once, when it is complete."""
        step = RelpStep()
        if self._ended or not data:
            return step
        if self._buf:
            self._buf += data
            if len(self._buf) < self._need:
                return step
            buf = bytes(self._buf)
            self._buf.clear()
        else:
            buf = data
        pos = 0
        n = len(buf)
        self._need = 0
        messages, replies = step.messages, step.replies
        while pos < n:
            m = _HDR.match(buf, pos)
            if m is None:
                rest = buf[pos : pos + _MAX_HDR]
                if len(rest) < _MAX_HDR and _PREFIX.fullmatch(rest):
                    self._need = len(rest) + 1
                    break  # incomplete header: wait for more
                step.error = RelpProtocolError(self._consumed + pos, "syntax", _diagnose(rest))
                break
            txnr_b, cmd, datalen_b, sep = m.groups()
            txnr = int(txnr_b)
            datalen = int(datalen_b)
            if datalen == 0:
                if sep != b"\n":
                    step.error = RelpProtocolError(
                        self._consumed + pos, "syntax", "DATALEN 0 must be followed by the trailer LF"
                    )
                    break
                data_start = end = m.end() - 1  # at the trailer LF, as for other frames
            else:
                if sep != b" ":
                    step.error = RelpProtocolError(
                        self._consumed + pos, "syntax", f"DATALEN {datalen} but LF instead of SP DATA"
                    )
                    break
                if datalen > self.max_frame_bytes:
                    step.error = RelpProtocolError(
                        self._consumed + pos,
                        "oversize",
                        f"DATALEN {datalen} exceeds max_frame_bytes {self.max_frame_bytes}",
                    )
                    break
                data_start = m.end()
                end = data_start + datalen
                if end >= n:
                    self._need = end + 1 - pos
                    break  # incomplete data or trailer
                if buf[end] != 0x0A:
                    step.error = RelpProtocolError(
                        self._consumed + pos,
                        "syntax",
                        f"no LF trailer after {datalen} data bytes (got {buf[end : end + 1]!r}): "
                        "DATALEN does not match the data",
                    )
                    break
            if txnr != self.expected_txnr:
                step.error = RelpProtocolError(
                    self._consumed + pos,
                    "txnr",
                    f"transaction number {txnr} out of order (expected {self.expected_txnr})",
                )
                break
            self.expected_txnr = 1 if txnr >= MAX_TXNR else txnr + 1
            if cmd == b"syslog" and self.is_open:  # the common frame, inline: one copy of its data
                messages.append(buf[data_start : end - 1 if buf[end - 1] == 0x0A else end])
                replies.append(b"%d rsp 6 200 OK\n" % txnr)
                pos = end + 1
                continue
            error = self._command(txnr, cmd, buf[data_start:end], step)
            if error is not None:
                step.error = RelpProtocolError(self._consumed + pos, *error)
                break
            pos = end + 1
            if step.close:
                break
        self._consumed += pos
        if step.error is not None or step.close:
            self._ended = True
        elif pos < n:
            self._buf = bytearray(buf[pos:])
        return step

    def _command(self, txnr: int, cmd: bytes, data: bytes, step: RelpStep) -> tuple[str, str] | None:
        if cmd == b"syslog":
            if not self.is_open:
                return "not_open", "syslog frame before open"
            step.messages.append(data[:-1] if data.endswith(b"\n") else data)
            step.replies.append(b"%d rsp 6 200 OK\n" % txnr)
            return None
        if cmd == b"open":
            if self.is_open:
                step.replies.append(_rsp(txnr, b"200 connection already open - ignored"))
                return None
            offers: dict[bytes, bytes] = {}
            for line in data.split(b"\n"):
                name, _, value = line.partition(b"=")
                if name:
                    offers[name] = value
            commands = offers.get(b"commands", b"").split(b",")
            if b"relp_version" not in offers or b"syslog" not in commands:
                step.replies.append(_rsp(txnr, b"500 required command not supported by client"))
                return "offer", f"open offers {data[:200]!r} lack relp_version or commands=syslog"
            self.is_open = True
            body = b"200 OK\nrelp_version=0\nrelp_software=%s\ncommands=syslog" % SOFTWARE
            step.replies.append(_rsp(txnr, body))
            return None
        if cmd == b"close":
            step.replies.append(_rsp(txnr, b""))
            step.close = True
            return None
        return "command", f"unknown command {cmd[:32].decode('ascii', 'replace')!r}"
