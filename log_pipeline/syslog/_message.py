"""The parsed syslog message and the parser's errors.

Error tree (all under :class:`log_pipeline.base.LogPipelineError`)::

    SyslogError
     └── ParseError      the input is not a valid message; ``column`` is the 0-based byte offset where the
                         parser stopped, ``reason`` a short metric label, ``partial`` the minimally valid
                         message parsed before the error (best-effort mode), or None
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from log_pipeline.base import LogPipelineError
from log_pipeline.syslog._time import format_rfc3339nano

__all__ = ["ParseError", "SyslogError", "SyslogMessage"]


class SyslogError(LogPipelineError):
    """Base of the syslog package's errors."""


class ParseError(SyslogError):
    """Invalid syslog input. ``str(err)`` is go-syslog's text, e.g. ``parsing error [col 16]``."""

    def __init__(self, text: str, column: int, reason: str, partial: SyslogMessage | None = None) -> None:
        super().__init__(f"{text} [col {column}]")
        self.column = column
        self.reason = reason
        self.partial = partial


@dataclass(slots=True)
class SyslogMessage:
    """One parsed message. ``None`` means nil/absent (RFC 5424's ``-``).

    ``timestamp_ns`` is Unix nanoseconds; ``tz_offset_s`` the offset it was written with. RFC 3164 stamps
    carry no year: they are computed for year 0 and ``year_missing`` is set (``to_record`` resolves the year
    from the receive time). ``message`` is always text; when the bytes were not valid UTF-8 it holds a
    replacement-decoded copy and ``message_bytes`` the exact bytes. ``error`` is set on a best-effort
    partial result.
    """

    format: str  # "rfc5424" | "rfc3164"
    priority: int | None = None
    version: int | None = None
    timestamp_ns: int | None = None
    tz_offset_s: int = 0
    hostname: str | None = None
    appname: str | None = None
    procid: str | None = None
    msgid: str | None = None
    structured_data: dict[str, dict[str, str]] | None = None
    message: str | None = None
    message_bytes: bytes | None = None
    year_missing: bool = False
    truncated: bool = False
    error: ParseError | None = None

    @property
    def facility(self) -> int | None:
        return None if self.priority is None else self.priority >> 3

    @property
    def severity(self) -> int | None:
        return None if self.priority is None else self.priority & 7

    def timestamp_rfc3339(self) -> str | None:
        if self.timestamp_ns is None:
            return None
        return format_rfc3339nano(self.timestamp_ns, self.tz_offset_s)

    def to_dict(self) -> dict[str, object]:
        """JSON form used by ``paramedic parse syslog`` and the conformance tests; nil keys are absent and
        a message that is not valid UTF-8 is given as ``message_b64`` instead of ``message``."""
        out: dict[str, object] = {}
        if self.priority is not None:
            out["priority"] = self.priority
            out["facility"] = self.priority >> 3
            out["severity"] = self.priority & 7
        if self.version is not None:
            out["version"] = self.version
        ts = self.timestamp_rfc3339()
        if ts is not None:
            out["timestamp"] = ts
        for key in ("hostname", "appname", "procid", "msgid"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.structured_data is not None:
            out["structured_data"] = self.structured_data
        if self.message_bytes is not None:
            out["message_b64"] = base64.b64encode(self.message_bytes).decode("ascii")
        elif self.message is not None:
            out["message"] = self.message
        if self.truncated:
            out["truncated"] = True
        return out
