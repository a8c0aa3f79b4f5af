"""Syslog-over-stream framing (RFC 6587), pure: octet counting (``LEN SP MSG``) or LF-terminated lines.

``mode="auto"`` decides per connection from the first byte: a digit means octet counting, anything else LF
framing (RFC 6587 §3.4.2 style detection). TLS (RFC 5425) uses ``mode="octet"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["FramingError", "FramingStep", "SyslogFramer"]

_COUNT = re.compile(rb"([0-9]{1,10}) ")


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
        self._buf = b""
        self._consumed = 0

    def feed(self, data: bytes) -> FramingStep:
        step = FramingStep()
        buf = self._buf + data if self._buf else data
        if self.mode == "auto" and buf:
            self.mode = "octet" if buf[:1].isdigit() else "lf"
        pos = self._octets(buf, step) if self.mode == "octet" else self._lines(buf, step)
        self._consumed += pos
        self._buf = buf[pos:] if step.error is None else b""
        return step

    def flush(self) -> list[bytes]:
        """At end of stream: an LF-framed last line without its LF is still a message."""
        rest, self._buf = self._buf, b""
        if self.mode == "lf" and rest.strip():
            return [rest.rstrip(b"\r")]
        return []

    def _octets(self, buf: bytes, step: FramingStep) -> int:
        pos, n = 0, len(buf)
        while pos < n:
            m = _COUNT.match(buf, pos)
            if m is None:
                rest = buf[pos : pos + 11]
                if len(rest) < 11 and rest.isdigit():
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
                break
            msg = buf[m.end() : end]
            step.messages.append(msg[:-1] if msg.endswith(b"\n") else msg)
            pos = end
        return pos

    def _lines(self, buf: bytes, step: FramingStep) -> int:
        pos = 0
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if len(buf) - pos > self.max_message_bytes:
                    step.error = FramingError(
                        self._consumed + pos,
                        "oversize",
                        f"line longer than max_message_bytes {self.max_message_bytes}",
                    )
                return pos
            line = buf[pos:nl]
            if line.endswith(b"\r"):
                line = line[:-1]
            if line:
                step.messages.append(line)
            pos = nl + 1
