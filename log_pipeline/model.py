"""The log record model shared by receivers, parsers, the pattern miner, search stores and the API.

Flow: a receiver accepts a frame and appends a :class:`RawMessage` to the durable spool (only then it acks);
the pipeline reads the spool, parses each raw message into a :class:`LogRecord` (syslog fields, Cloud Foundry
conventions), assigns a pattern, and writes batches to the search store. ``LogRecord.id`` is derived from the
spool position, so replaying the spool after a crash rewrites the same ids (stores upsert by id); duplicates
that come from a sender re-sending an unacked frame get new ids and are counted, not hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LEVELS", "FieldValue", "LogRecord", "RawMessage"]

# syslog severity (0..7) -> level label
LEVELS = ("emergency", "alert", "critical", "error", "warning", "notice", "info", "debug")

FieldValue = str | int | float


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One message as received, before parsing."""

    data: bytes  # the syslog message (RFC 5424 / 3164 text), framing removed
    received_ns: int  # receive time, Unix nanoseconds
    transport: str  # "relp" | "tcp" | "tls" | "udp" | "stdin" ...
    peer: str  # "127.0.0.1:53422"


@dataclass(slots=True)
class LogRecord:
    """A parsed, enriched log line.

    ``labels`` are low-cardinality and indexed for filtering: ``app``, ``instance``, ``host``, ``level``,
    ``source`` (e.g. ``APP/PROC/WEB``, ``RTR``), ``transport``. ``fields`` hold everything parsed: the syslog
    header (``priority``, ``facility``, ``severity``, ``hostname``, ``appname``, ``procid``, ``msgid``),
    structured data flattened as ``sd.<sd-id>.<param>``, and per-format fields (router access lines:
    ``method``, ``path``, ``status``, ``response_time_s``, ...).
    """

    id: str
    timestamp_ns: int  # event time (syslog timestamp; receive time when absent)
    message: str
    labels: dict[str, str] = field(default_factory=dict)
    fields: dict[str, FieldValue] = field(default_factory=dict)
    pattern_id: str = ""
    template: str = ""
