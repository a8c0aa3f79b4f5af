"""Syslog parsing: RFC 5424 (strict and best-effort, go-syslog compatible errors) and RFC 3164.

Public API::

    parse_rfc5424(data, *, best_effort=False, compliant_msg=False) -> SyslogMessage
    parse_rfc3164(data, *, best_effort=False) -> SyslogMessage
    parse_syslog(data, *, best_effort=False, max_bytes=65536) -> SyslogMessage   # auto-detect
    to_record(msg, raw, record_id) -> LogRecord
    SyslogParser(max_message_bytes=..., registry=...).to_record(raw, record_id)   # ingest path, counted

Errors: ``SyslogError`` > ``ParseError`` (``column``, ``reason``, ``partial``), under ``LogPipelineError``.
"""

from log_pipeline.syslog._message import ParseError, SyslogError, SyslogMessage
from log_pipeline.syslog._parser import DEFAULT_MAX_MESSAGE_BYTES, SyslogParser, is_rfc5424, parse_syslog
from log_pipeline.syslog._record import resolve_year, to_record
from log_pipeline.syslog._rfc3164 import parse_rfc3164
from log_pipeline.syslog._rfc5424 import parse_rfc5424

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "ParseError",
    "SyslogError",
    "SyslogMessage",
    "SyslogParser",
    "is_rfc5424",
    "parse_rfc3164",
    "parse_rfc5424",
    "parse_syslog",
    "resolve_year",
    "to_record",
]
