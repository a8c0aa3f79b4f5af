"""Enrichers: functions ``(LogRecord) -> bool`` (True = applied) working on the generic syslog fields that
:func:`log_pipeline.syslog.to_record` set (``hostname``, ``appname``, ``procid``, ``msgid``, ``sd.*``).

Conventions
-----------
* **Cloud Foundry syslog drain** (loggregator syslog agent): labels ``org``, ``space``, ``app`` from the
  ``tags@47450`` structured data (``organization_name``, ``space_name``, ``app_name``, kept as ``sd.*`` fields
  too), else from the hostname ``org.space.app``; app-name = app GUID -> field ``app_guid``; proc-id
  ``[APP/PROC/WEB/0]`` -> labels ``source=APP/PROC/WEB``, ``instance=0`` (``[RTR/1]``, ``[CELL/0]``,
  ``[API/0]``, ``[STG/0]`` alike);
  ``RTR`` lines are gorouter access lines -> ``method``, ``path``, ``status``, ``response_time_s``,
  ``app_index``, ``x_forwarded_for``, ``user_agent``, ``vcap_request_id``, ...
* **BOSH syslog-release**: SD element ``instance@47450`` (``director``, ``deployment``, ``group``, ``az``,
  ``id``) -> labels ``deployment``, ``job`` (= group), ``az``, ``instance_id``; combined with the others.
* **Local platform** (platforms/local, forwarded by the demo's rsyslog as RFC 5424): an app instance line
  has app-name = the app's name, proc-id = the instance index and msg-id ``APP`` -> labels ``app``,
  ``instance``, ``source=APP``; ``key=value`` pairs in the message (logfmt: ``status=500 duration_ms=0.4``)
  become fields (numbers as numbers) unless a field of that name exists, at most 32 per line. HAProxy lines
  (app-name ``haproxy``) in the default ``option httplog``
  format -> ``method``, ``path``, ``status``, ``response_time_s``, ``backend`` (= app, also label ``app``),
  ``server``, ``source=RTR``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from log_pipeline.enrich._access import parse_gorouter, parse_haproxy
from log_pipeline.model import LogRecord

__all__ = ["ENRICHERS", "Enricher", "enrich"]

Enricher = Callable[[LogRecord], bool]

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z", re.IGNORECASE)
_BOSH_SD = "sd.instance@47450."
_BOSH_LABELS = tuple(
    (_BOSH_SD + param, label)
    for param, label in (("deployment", "deployment"), ("group", "job"), ("az", "az"), ("id", "instance_id"))
)
LOCAL_APP_MSGID = "APP"


_CF_TAGS = "sd.tags@47450."


def _cf_tags(record: LogRecord) -> tuple[str, str, str] | None:
    """(org, space, app) from the agent's ``tags@47450`` structured data when it names all three (names may
    contain dots, which the ``org.space.app`` hostname cannot tell apart)."""
    fields = record.fields
    found = [fields.get(_CF_TAGS + k) for k in ("organization_name", "space_name", "app_name")]
    if all(isinstance(v, str) and v for v in found):
        org, space, app = (str(v) for v in found)
        return org, space, app
    return None


def _cf_drain(record: LogRecord) -> bool:
    procid = record.fields.get("procid")
    if not isinstance(procid, str) or len(procid) < 3 or procid[0] != "[" or procid[-1] != "]":
        return False
    source, _, instance = procid[1:-1].rpartition("/")
    if not source or not instance.isdigit():
        source, instance = procid[1:-1], ""
    labels = record.labels
    labels["source"] = source
    if instance:
        labels["instance"] = instance
    named = _cf_tags(record)
    hostname = record.fields.get("hostname")
    if named is not None:
        labels["org"], labels["space"], labels["app"] = named
    elif isinstance(hostname, str) and hostname.count(".") >= 2:
        org, space, app = hostname.split(".", 2)
        labels["org"], labels["space"], labels["app"] = org, space, app
    appname = record.fields.get("appname")
    if isinstance(appname, str) and _GUID.match(appname):
        record.fields["app_guid"] = appname
        if "org" not in labels:
            labels.pop("app", None)  # a GUID is not an app name
    if source == "RTR":
        access = parse_gorouter(record.message)
        if access is not None:
            record.fields.update(access)
    return True


def _bosh(record: LogRecord) -> bool:
    fields = record.fields
    applied = False
    for key, label in _BOSH_LABELS:
        value = fields.get(key)
        if isinstance(value, str) and value:
            record.labels[label] = value
            applied = True
    return applied


def _haproxy(record: LogRecord) -> bool:
    if record.fields.get("appname") != "haproxy":
        return False
    access = parse_haproxy(record.message)
    if access is None:
        return False
    record.fields.update(access)
    record.labels["source"] = "RTR"
    backend = access.get("backend")
    if isinstance(backend, str):
        record.labels["app"] = backend
    return True


_LOGFMT = re.compile(r'(?<![^\s])([A-Za-z_][A-Za-z0-9_.]*)=("(?:[^"\\]|\\.)*"|[^\s"]+)')
_MAX_LOGFMT_PAIRS = 32


def _number(text: str) -> str | int | float:
    if text.isdigit() and len(text) < 19:
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def _logfmt(record: LogRecord) -> None:
    fields = record.fields
    for n, match in enumerate(_LOGFMT.finditer(record.message)):
        if n >= _MAX_LOGFMT_PAIRS:
            break
        key, raw = match.group(1), match.group(2)
        if key in fields:
            continue
        fields[key] = raw[1:-1].replace('\\"', '"') if raw.startswith('"') else _number(raw)


def _local_app(record: LogRecord) -> bool:
    procid = record.fields.get("procid")
    if record.fields.get("msgid") != LOCAL_APP_MSGID or not isinstance(procid, str) or not procid.isdigit():
        return False
    record.labels["instance"] = procid
    record.labels["source"] = "APP"
    _logfmt(record)
    return True  # ``app`` label is already the app-name


# Tried in order; the first that applies wins. BOSH labels are added independently (see enrich()).
ENRICHERS: dict[str, Enricher] = {
    "cloudfoundry": _cf_drain,
    "haproxy": _haproxy,
    "local_app": _local_app,
}


def enrich(record: LogRecord) -> LogRecord:
    """Apply the matching enricher in place (and return the record); unknown formats pass untouched."""
    _bosh(record)
    for enricher in ENRICHERS.values():
        if enricher(record):
            break
    return record
