"""RFC 5424 lines as Cloud Foundry's syslog agent writes them to a drain (loggregator-agent-release).

``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - [tags@47450 k="v" ...] MSG`` with HOSTNAME
``<org>.<space>.<app>``, APP-NAME the app GUID, PROCID the envelope's source type and instance in brackets
(``[APP/PROC/WEB/0]`` for app output, ``[RTR/0]`` for the router's access lines), MSGID ``-``, and the
envelope tags as one ``tags@47450`` structured-data element (47450 is Cloud Foundry's IANA enterprise
number). PRI: user facility, info (14) for stdout, err (11) for stderr. On TCP drains every line is framed
with octet counting (RFC 6587): ``<length> <line>``; the line ends with a newline, as the agent's do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from platforms.cf_sim.foundation import CFApp, guid_for
from platforms.cf_sim.gorouter_access import RouterRequest

__all__ = ["MAX_MESSAGE_BYTES", "app_line", "frame", "rfc5424", "router_line"]

MAX_MESSAGE_BYTES = 64 * 1024
SD_ID = "tags@47450"


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _timestamp(time_s: float) -> str:
    return dt.datetime.fromtimestamp(time_s, dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def rfc5424(
    pri: int, time_s: float, hostname: str, app_name: str, procid: str, tags: Mapping[str, str], msg: str
) -> str:
    sd = f"[{SD_ID}" + "".join(f' {k}="{_sd_escape(v)}"' for k, v in sorted(tags.items())) + "]"
    body = msg.replace("\n", " ")
    raw = body.encode()
    if len(raw) > MAX_MESSAGE_BYTES:
        body = raw[:MAX_MESSAGE_BYTES].decode(errors="ignore")
    return f"<{pri}>1 {_timestamp(time_s)} {hostname} {app_name} {procid} - {sd} {body}\n"


def frame(line: str) -> bytes:
    data = line.encode()
    return str(len(data)).encode() + b" " + data


def _app_tags(app: CFApp, source_type: str, instance: str) -> dict[str, str]:
    return {
        "app_id": app.guid,
        "app_name": app.name,
        "organization_id": guid_for("org", app.org),
        "organization_name": app.org,
        "space_id": app.space_guid,
        "space_name": app.space,
        "process_id": app.guid,
        "process_type": "web",
        "source_type": source_type,
        "instance_id": instance,
        "deployment": "cf",
    }


def app_line(app: CFApp, index: int, text: str, time_s: float, *, stderr: bool = False) -> str:
    """One line of app output as the drain receives it."""
    tags = {**_app_tags(app, "APP/PROC/WEB", str(index)), "origin": "rep", "job": "diego-cell"}
    return rfc5424(
        11 if stderr else 14,
        time_s,
        f"{app.org}.{app.space}.{app.name}",
        app.guid,
        f"[APP/PROC/WEB/{index}]",
        tags,
        text,
    )


def router_line(app: CFApp, r: RouterRequest, host: str) -> str:
    """gorouter's access log line for one request (``[RTR/0]``), from HAProxy's log of it."""
    started = dt.datetime.fromtimestamp(r.time_s - r.duration_ms / 1000, dt.UTC)
    msg = (
        f'{host} - [{started.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]}+0000] "{r.method} {r.path} HTTP/1.1" '
        f'{r.status} 0 {r.bytes_sent} "-" "-" "{r.client}:0" "{r.server}" x_forwarded_for:"-" '
        f'x_forwarded_proto:"http" response_time:{r.duration_ms / 1000:.6f} app_id:"{app.guid}" '
        f'app_index:"{r.instance_index or "-"}"'
    )
    tags = {**_app_tags(app, "RTR", "0"), "origin": "gorouter", "job": "router"}
    return rfc5424(14, r.time_s, f"{app.org}.{app.space}.{app.name}", app.guid, "[RTR/0]", tags, msg)
