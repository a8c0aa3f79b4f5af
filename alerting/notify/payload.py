"""The Alertmanager webhook v4 payload, byte for byte as Alertmanager 0.25 writes it.

Alertmanager builds the body with ``template.Data`` and Go's ``json.NewEncoder(..).Encode``; this module
reproduces every detail that shows in the bytes:

* struct field order (``receiver, status, alerts, groupLabels, commonLabels, commonAnnotations, externalURL,
  version, groupKey, truncatedAlerts``; per alert ``status, labels, annotations, startsAt, endsAt,
  generatorURL, fingerprint``); map keys sorted bytewise; no spaces; a trailing newline;
* Go's string escaping: ``<``, ``>``, ``&`` as ``\\u003c``/``\\u003e``/``\\u0026``, U+2028/U+2029 escaped,
  control characters other than ``\\n \\r \\t`` as ``\\u00XX`` (Go < 1.22 has no ``\\b``/``\\f``), everything
  else raw UTF-8;
* times as ``RFC3339Nano`` (trailing zeros of the fraction trimmed, ``Z`` for UTC); a firing alert's
  ``endsAt`` is Go's zero time ``0001-01-01T00:00:00Z``;
* ``receiver`` passed through ``regexp.QuoteMeta``; ``status`` per alert at send time; the group status is
  "firing" when any alert fires; ``commonLabels``/``commonAnnotations`` are recomputed over the alerts
  actually sent (after ``max_alerts`` truncation), as Alertmanager's webhook does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypedDict

from alerting.model import Alert, AlertStatus, Notification

__all__ = [
    "GO_ZERO_TIME",
    "V4Alert",
    "V4Payload",
    "encode_v4",
    "go_json_string",
    "rfc3339nano",
    "truncate_alerts",
    "v4_payload",
    "v4_payload_dict",
]

GO_ZERO_TIME = "0001-01-01T00:00:00Z"

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f<>&\u2028\u2029\ud800-\udfff]')
_QUOTE_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def _escape_char(m: re.Match[str]) -> str:
    ch = m.group(0)
    esc = _ESCAPES.get(ch)
    if esc is not None:
        return esc
    if "\ud800" <= ch <= "\udfff":  # lone surrogate: Go writes U+FFFD for invalid UTF-8
        return "\\ufffd"
    return f"\\u{ord(ch):04x}"


def go_json_string(s: str) -> str:
    """``s`` as Go's ``encoding/json`` (HTML-safe, Go 1.19/1.20) writes a string, quotes included."""
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, s) + '"'


def rfc3339nano(t: datetime | None) -> str:
    """Go's ``time.RFC3339Nano`` formatting; naive datetimes are taken as UTC, None is the zero time."""
    if t is None:
        return GO_ZERO_TIME
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    out = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.year < 1000:
        out = f"{t.year:04d}" + out[out.index("-") :]
    if t.microsecond:
        out += f".{t.microsecond:06d}".rstrip("0")
    offset = t.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        return out + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{out}{sign}{hours:02d}:{mins:02d}"


def _go_map(m: Mapping[str, str]) -> str:
    keys = sorted(m, key=lambda k: k.encode("utf-8", "surrogatepass"))
    return "{" + ",".join(f"{go_json_string(k)}:{go_json_string(m[k])}" for k in keys) + "}"


def truncate_alerts(alerts: Sequence[Alert], max_alerts: int) -> tuple[list[Alert], int]:
    """Alertmanager's ``truncateAlerts``: the first ``max_alerts`` alerts (all when 0) and the number cut."""
    if max_alerts > 0 and len(alerts) > max_alerts:
        return list(alerts[:max_alerts]), len(alerts) - max_alerts
    return list(alerts), 0


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    common = dict(maps[0])
    for m in maps[1:]:
        for k in [k for k, v in common.items() if m.get(k, "") != v]:
            del common[k]
    return common


class V4Alert(TypedDict):
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: str
    endsAt: str
    generatorURL: str
    fingerprint: str


class V4Payload(TypedDict):
    receiver: str
    status: AlertStatus
    alerts: list[V4Alert]
    groupLabels: dict[str, str]
    commonLabels: dict[str, str]
    commonAnnotations: dict[str, str]
    externalURL: str
    version: str
    groupKey: str
    truncatedAlerts: int


def v4_payload_dict(notification: Notification, now: datetime, *, max_alerts: int = 0) -> V4Payload:
    """The v4 payload as plain Python data (same fields and values as :func:`v4_payload`), for templates."""
    alerts, truncated = truncate_alerts(notification.alerts, max_alerts)
    out: list[V4Alert] = []
    for a in alerts:
        st = a.status(now)
        out.append(
            V4Alert(
                status=st,
                labels=dict(a.labels),
                annotations=dict(a.annotations),
                startsAt=rfc3339nano(a.starts_at),
                endsAt=GO_ZERO_TIME if st == "firing" else rfc3339nano(a.ends_at),
                generatorURL=a.generator_url,
                fingerprint=a.fingerprint(),
            )
        )
    return V4Payload(
        receiver=_QUOTE_META.sub(r"\\\1", notification.receiver),
        status="firing" if any(a["status"] == "firing" for a in out) else "resolved",
        alerts=out,
        groupLabels=dict(notification.group_labels),
        commonLabels=_common([a.labels for a in alerts]),
        commonAnnotations=_common([a.annotations for a in alerts]),
        externalURL=notification.external_url,
        version="4",
        groupKey=notification.group_key,
        truncatedAlerts=notification.truncated_alerts + truncated,
    )


def _alert_json(a: V4Alert) -> str:
    s = go_json_string
    return (
        f'{{"status":{s(a["status"])},"labels":{_go_map(a["labels"])},'
        f'"annotations":{_go_map(a["annotations"])},"startsAt":{s(a["startsAt"])},'
        f'"endsAt":{s(a["endsAt"])},"generatorURL":{s(a["generatorURL"])},"fingerprint":{s(a["fingerprint"])}}}'
    )


def encode_v4(d: V4Payload) -> bytes:
    """Go's ``json.Encoder.Encode`` of a v4 payload (UTF-8, trailing LF)."""
    s = go_json_string
    body = (
        f'{{"receiver":{s(d["receiver"])},"status":{s(d["status"])},'
        f'"alerts":[{",".join(_alert_json(a) for a in d["alerts"])}],'
        f'"groupLabels":{_go_map(d["groupLabels"])},"commonLabels":{_go_map(d["commonLabels"])},'
        f'"commonAnnotations":{_go_map(d["commonAnnotations"])},"externalURL":{s(d["externalURL"])},'
        f'"version":{s(d["version"])},"groupKey":{s(d["groupKey"])},"truncatedAlerts":{int(d["truncatedAlerts"])}}}\n'
    )
    return body.encode("utf-8")


def v4_payload(notification: Notification, now: datetime, *, max_alerts: int = 0) -> bytes:
    """The webhook body Alertmanager 0.25 would POST for ``notification`` at ``now``."""
    return encode_v4(v4_payload_dict(notification, now, max_alerts=max_alerts))
