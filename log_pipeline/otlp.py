"""OTLP log records into the log pipeline, sans I/O.

The OTLP/HTTP logs receiver (``/api/v1/otlp/v1/logs``, :mod:`collector.push.api`) turns every log record of an
``ExportLogsServiceRequest`` into a :class:`OtlpLine` (:func:`otlp_lines`), checks tenancy on their labels,
and
appends them to the spool as :class:`~log_pipeline.model.RawMessage` with ``transport="otlp"`` and the line as
JSON (:meth:`OtlpLine.raw`): durable before the sender gets its 200, like a RELP frame before its ack. The
pipeline's parse stage reads such a message back with :func:`otlp_record` instead of the syslog parser; the
other stages (enrich, tenant, pattern, store, tail) are the same as for syslog lines.

A record becomes:

* ``message``: the body (a string body as is; any other value as JSON), at most ``max_message_bytes`` (cut
  at a character boundary, field ``truncated=1``);
* ``timestamp_ns``: ``time_unix_nano``, else ``observed_time_unix_nano``, else the receive time;
* labels: ``app`` (resource ``app``, ``cloudfoundry.app.name``, else ``service.name``), ``org``/``space``
  (``org``/``space`` or ``cloudfoundry.org.name``/``cloudfoundry.space.name``), ``instance``
  (``service.instance.id``), ``host`` (``host.name``), ``level`` (from ``severity_number``: TRACE/DEBUG ->
  debug, INFO -> info, WARN -> warning, ERROR -> error, FATAL -> critical; else a ``severity_text`` that
  names a level), ``source=otlp``, ``transport=otlp``;
* fields: ``attr.<key>`` per record attribute and ``resource.<key>`` per resource attribute (numbers stay
  numbers), ``severity_text``, ``severity_number``, ``trace_id``/``span_id`` (hex), ``scope``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from log_pipeline.model import LEVELS, FieldValue, LogRecord, RawMessage

__all__ = ["OTLP_TRANSPORT", "OtlpLine", "otlp_lines", "otlp_record"]

OTLP_TRANSPORT = "otlp"
_TENANCY = {
    "org": ("org", "cloudfoundry.org.name"),
    "space": ("space", "cloudfoundry.space.name"),
    "app": ("app", "cloudfoundry.app.name", "service.name"),
    "instance": ("service.instance.id",),
    "host": ("host.name",),
}
# severity_number 1-24 in blocks of four: TRACE, DEBUG, INFO, WARN, ERROR, FATAL
_LEVEL_BY_BLOCK = ("debug", "debug", "info", "warning", "error", "critical")
_LEVEL_WORDS = {"warn": "warning", "fatal": "critical", "trace": "debug", "err": "error", "crit": "critical"}


def _value(v: Any) -> FieldValue:
    kind = v.WhichOneof("value")
    if kind in ("int_value", "double_value"):
        num: int | float = getattr(v, kind)
        return num
    if kind == "string_value":
        text: str = v.string_value
        return text
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind == "bytes_value":
        return str(v.bytes_value.hex())
    if kind is None:
        return ""
    return json.dumps(json_format.MessageToDict(v), separators=(",", ":"))


def _level(number: int, text: str) -> str:
    if 1 <= number <= 24:
        return _LEVEL_BY_BLOCK[(number - 1) // 4]
    word = text.strip().lower()
    word = _LEVEL_WORDS.get(word, word)
    return word if word in LEVELS else ""


def _cut(text: str, max_bytes: int) -> tuple[str, bool]:
    data = text.encode()
    if len(data) <= max_bytes:
        return text, False
    return data[:max_bytes].decode("utf-8", "ignore"), True


@dataclass(slots=True)
class OtlpLine:
    """One OTLP log record, ready for the spool."""

    timestamp_ns: int
    message: str
    labels: dict[str, str] = field(default_factory=dict)
    fields: dict[str, FieldValue] = field(default_factory=dict)

    def raw(self, received_ns: int, peer: str) -> RawMessage:
        body = {"t": self.timestamp_ns, "m": self.message, "l": self.labels, "f": self.fields}
        return RawMessage(orjson.dumps(body), received_ns, OTLP_TRANSPORT, peer)


def _resource(attrs: dict[str, FieldValue]) -> tuple[dict[str, str], dict[str, FieldValue]]:
    labels: dict[str, str] = {"source": "otlp", "transport": OTLP_TRANSPORT}
    for label, keys in _TENANCY.items():
        value = next((str(attrs[k]) for k in keys if attrs.get(k) not in (None, "")), "")
        if value:
            labels[label] = value
    return labels, {f"resource.{k}": v for k, v in attrs.items()}


def _line(
    rec: Any, labels: dict[str, str], fields: dict[str, FieldValue], scope: str, ctx: tuple[int, int]
) -> OtlpLine:
    received_ns, max_bytes = ctx
    body = rec.body
    text = body.string_value if body.WhichOneof("value") == "string_value" else str(_value(body))
    message, truncated = _cut(text, max_bytes)
    out = OtlpLine(rec.time_unix_nano or rec.observed_time_unix_nano or received_ns, message, dict(labels))
    out.fields.update(fields)
    out.fields.update({f"attr.{kv.key}": _value(kv.value) for kv in rec.attributes})
    level = _level(rec.severity_number, rec.severity_text)
    if level:
        out.labels["level"] = level
    if rec.severity_text:
        out.fields["severity_text"] = rec.severity_text
    if rec.severity_number:
        out.fields["severity_number"] = int(rec.severity_number)
    if rec.trace_id:
        out.fields["trace_id"] = rec.trace_id.hex()
    if rec.span_id:
        out.fields["span_id"] = rec.span_id.hex()
    if scope:
        out.fields["scope"] = scope
    if truncated:
        out.fields["truncated"] = 1
    return out


def otlp_lines(req: ExportLogsServiceRequest, received_ns: int, max_message_bytes: int) -> list[OtlpLine]:
    """Every log record of ``req`` as a line (see the module docstring)."""
    out: list[OtlpLine] = []
    for rl in req.resource_logs:
        labels, fields = _resource({kv.key: _value(kv.value) for kv in rl.resource.attributes})
        for sl in rl.scope_logs:
            for rec in sl.log_records:
                out.append(_line(rec, labels, fields, sl.scope.name, (received_ns, max_message_bytes)))
    return out


def otlp_record(raw: RawMessage, record_id: str) -> LogRecord:
    """The pipeline's parse step for ``transport == "otlp"``: the record a line was spooled as."""
    body = orjson.loads(raw.data)
    return LogRecord(
        id=record_id,
        timestamp_ns=int(body["t"]),
        message=str(body["m"]),
        labels={str(k): str(v) for k, v in body["l"].items()},
        fields=dict(body["f"]),
    )
