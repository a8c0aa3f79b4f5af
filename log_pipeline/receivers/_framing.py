"""Syslog-over-stream framing (RFC 6587), pure: octet counting (``LEN SP MSG``) or LF-terminated lines.

``mode="auto"`` decides per connection from the first byte: a digit means octet counting, anything else LF
framing (RFC 6587 §3.4.2 style detection). TLS (RFC 5425) uses ``mode="octet"``.

Linear time whatever the read sizes: an incomplete message waits in a ``bytearray`` (appending is amortised
O(read)); while it cannot be complete (fewer bytes than its octet count, or no LF in the new bytes) a read
costs O(read), and the buffered bytes are copied out once, when the message completes. A message longer than
``max_message_bytes`` (an octet count over it, or a line that grows past it) is a framing error; after an
error the framer ignores further input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["FramingError", "FramingStep", "SyslogFramer"]

_COUNT = re.compile(rb"([0-9]{1,10}) ")
_MAX_COUNT_PREFIX = 11  # 10 digits and SP


@dataclass(frozen=True, slots=True)
class FramingError:
    offset: int
    reason: str  # metric label: "syntax" | "oversize"
    detail: str


@dataclass(slots=True)
class FramingStep:
    messages: list[bytes] = field(default_factory=list)
    error: FramingError | None = None


class SyslogFramer:
    def __init__(self, mode: Literal["auto", "octet", "lf"], max_message_bytes: int) -> None:
        self.mode = mode
        self.max_message_bytes = max_message_bytes
        self._buf = bytearray()  # the start of an incomplete message
        self._need = 0  # octet mode: buffered bytes needed before the message can be complete
        self._consumed = 0  # stream offset of self._buf[0]
        self._failed = False

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete message held back (0 between messages)."""
        return len(self._buf)

    def feed(self, data: bytes) -> FramingStep:
        step = FramingStep()
        if self._failed or not data:
            return step
        if self.mode == "auto":
            self.mode = "octet" if (self._buf[:1] or data[:1]).isdigit() else "lf"
        buf = self._buf
        if buf:
            buf += data
            if self.mode == "lf" and b"\n" not in data:
                self._check_line_length(len(buf) - 1, 0, step)  # - 1: the CR of a CRLF may be here
                return step
            if self.mode == "octet" and len(buf) < self._need:
                return step
            work = bytes(buf)
            buf.clear()
        else:
            work = data
        pos = self._octets(work, step) if self.mode == "octet" else self._lines(work, step)
        if step.error is not None:
            self._failed = True
            self._buf = bytearray()
            return step
        self._consumed += pos
        if pos < len(work):
            self._buf = bytearray(work[pos:])
        return step

    def flush(self) -> list[bytes]:
        """At end of stream: an LF-framed last line without its LF is still a message."""
        rest, self._buf = bytes(self._buf), bytearray()
        if self.mode == "lf" and not self._failed and rest.strip():
            return [rest.rstrip(b"\r")]
        return []

    def _octets(self, buf: bytes, step: FramingStep) -> int:
        pos, n = 0, len(buf)
        self._need = 0
        while pos < n:
            m = _COUNT.match(buf, pos)
            if m is None:
                rest = buf[pos : pos + _MAX_COUNT_PREFIX]
                if len(rest) < _MAX_COUNT_PREFIX and rest.isdigit():
                    self._need = len(rest) + 1
                    break
                step.error = FramingError(
                    self._consumed + pos, "syntax", f"expected an octet count then SP, got {rest!r}"
                )
                break
            length = int(m.group(1))
            if length > self.max_message_bytes:
                step.error = FramingError(
                    self._consumed + pos,
                    "oversize",
                    f"octet count {length} exceeds max_message_bytes {self.max_message_bytes}",
                )
                break
            end = m.end() + length
            if end > n:
                self._need = end - pos
                break
            msg = buf[m.end() : end]
            step.messages.append(msg[:-1] if msg.endswith(b"\n") else msg)
            pos = end
        return pos

    def _lines(self, buf: bytes, step: FramingStep) -> int:
        pos, limit, out = 0, self.max_message_bytes, step.messages
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                self._check_line_length(len(buf) - pos - 1, pos, step)  # - 1: a CR may be here
                return pos
            line = buf[pos:nl]
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > limit:
                self._check_line_length(len(line), pos, step)
                return pos
            if line:
                out.append(line)
            pos = nl + 1

    def _check_line_length(self, length: int, pos: int, step: FramingStep) -> bool:
        if length <= self.max_message_bytes:
            return True
        step.error = FramingError(
            self._consumed + pos, "oversize", f"line longer than max_message_bytes {self.max_message_bytes}"
        )
        self._failed = True
        self._buf = bytearray()
        return False
