"""Format detection, the size limit and the parser's metrics."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from log_pipeline.model import LogRecord, RawMessage
from log_pipeline.syslog._header_cache import HeaderCache
from log_pipeline.syslog._message import ParseError, SyslogMessage
from log_pipeline.syslog._record import to_record
from log_pipeline.syslog._rfc3164 import parse_rfc3164
from log_pipeline.syslog._rfc5424 import fast_rfc5424, scan_rfc5424

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "SyslogParser", "is_rfc5424", "parse_syslog"]

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024


def is_rfc5424(data: bytes) -> bool:
    """``<PRI>`` followed by a 1-3 digit version and a space (RFC 3164 has a month name or nothing there)."""
    gt = data.find(b">", 0, 5)
    if gt < 0:
        return False
    p = gt + 1
    q = p
    while q < len(data) and q - p < 3 and 0x30 <= data[q] <= 0x39:
        q += 1
    return q > p and data[q : q + 1] == b" "


def parse_syslog(
    data: bytes, *, best_effort: bool = False, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> SyslogMessage:
    """Parse RFC 5424 or RFC 3164, detected from the header. Input longer than ``max_bytes`` is cut there
    and the result is flagged ``truncated``. Raises only :class:`ParseError`."""
    truncated = len(data) > max_bytes
    if truncated:
        data = data[:max_bytes]
    msg = fast_rfc5424(data)  # the common well-formed RFC 5424 message; None for anything else
    if msg is None:
        if is_rfc5424(data):
            msg = scan_rfc5424(data, best_effort, False)
        else:
            msg = parse_rfc3164(data, best_effort=best_effort)
    msg.truncated = truncated
    return msg


class SyslogParser:
    """The ingest-path parser: ``RawMessage`` -> ``LogRecord``; never raises for bad input.

    A message that fails to parse even in best-effort mode becomes a record with the raw text (invalid
    UTF-8 replaced), the receive time and ``fields["parse_error"]``, so nothing is dropped.

    Metrics (``registry``; None = not exported): ``paramedic_syslog_messages_total{format}``,
    ``paramedic_syslog_parse_errors_total{reason}`` (partial results included),
    ``paramedic_syslog_truncated_total``.
    """

    def __init__(
        self,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        best_effort: bool = True,
        registry: CollectorRegistry | None = REGISTRY,
    ) -> None:
        self.max_message_bytes = max_message_bytes
        self.best_effort = best_effort
        self._messages = Counter(
            "paramedic_syslog_messages_total",
            "Syslog messages parsed, by format.",
            ["format"],
            registry=registry,
        )
        self._errors = Counter(
            "paramedic_syslog_parse_errors_total",
            "Syslog messages with a parse error, by reason.",
            ["reason"],
            registry=registry,
        )
        self._truncated = Counter(
            "paramedic_syslog_truncated_total", "Syslog messages cut at max_message_bytes.", registry=registry
        )
        self._by_format = {f: self._messages.labels(f) for f in ("rfc5424", "rfc3164")}
        self._headers = HeaderCache()
        self._cached = 0  # records from the header cache not yet counted (see flush_counts)

    def parse(self, data: bytes) -> SyslogMessage:
        try:
            msg = parse_syslog(data, best_effort=self.best_effort, max_bytes=self.max_message_bytes)
        except ParseError as exc:
            self._errors.labels(exc.reason).inc()
            if len(data) > self.max_message_bytes:
                self._truncated.inc()
            raise
        self._by_format[msg.format].inc()
        if msg.error is not None:
            self._errors.labels(msg.error.reason).inc()
        if msg.truncated:
            self._truncated.inc()
        return msg

    def cached_record(self, raw: RawMessage, record_id: str) -> LogRecord | None:
        """The record of a well-formed RFC 5424 line whose header was seen before (built as :meth:`to_record`
        builds it), or None: then call :meth:`to_record`. Counted in the metrics at :meth:`flush_counts`
        (one update per batch, not per line)."""
        if len(raw.data) > self.max_message_bytes:
            return None
        record = self._headers.record(raw, record_id)
        if record is not None:
            self._cached += 1
        return record

    def flush_counts(self) -> None:
        """Count the records :meth:`cached_record` returned since the last call."""
        if self._cached:
            self._by_format["rfc5424"].inc(self._cached)
            self._cached = 0

    def to_record(self, raw: RawMessage, record_id: str) -> LogRecord:
        try:
            msg = self.parse(raw.data)
        except ParseError as exc:
            text = raw.data[: self.max_message_bytes].decode("utf-8", "replace")
            return LogRecord(
                id=record_id,
                timestamp_ns=raw.received_ns,
                message=text,
                labels={"transport": raw.transport},
                fields={"parse_error": str(exc)},
            )
        record = to_record(msg, raw, record_id)
        if msg.error is not None:
            record.fields["parse_error"] = str(msg.error)
        return record
