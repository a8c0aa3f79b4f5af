"""Access-log line parsers: Cloud Foundry gorouter (``[RTR/n]``) and HAProxy's default HTTP log format."""

from __future__ import annotations

import re

from log_pipeline.model import FieldValue

__all__ = ["parse_gorouter", "parse_haproxy"]

_Q = r'"([^"\\]*(?:\\.[^"\\]*)*)"'  # unrolled ``(?:[^"\\]|\\.)*``: no alternation per character
# gorouter accesslog/schema/access_log_record.go makeRecord():
# host - [start] "METHOD URI PROTO" status bytes_received bytes_sent "referer" "user-agent" "remote" "dest"
#   x_forwarded_for:"..." x_forwarded_proto:"..." vcap_request_id:"..." response_time:F gorouter_time:F
#   app_id:"..." app_index:"..." instance_id:"..." route_service_url:"..." x_cf_routererror:"..." [extra]
_GOROUTER = re.compile(
    rf'(\S+) - \[([^\]]+)\] "(\S+) (\S+) ([^"]*)" (\d{{3}}|"-"|-) (\d+|"-"|-) (\d+|"-"|-) {_Q} {_Q} '
    rf"{_Q} {_Q} (.*)"
)
_KV = re.compile(rf"([A-Za-z0-9_]+):(?:{_Q}|(\S+))")
_GOROUTER_FLOATS = {"response_time": "response_time_s", "gorouter_time": "gorouter_time_s"}

# HAProxy "option httplog" default:
# %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r
_HAPROXY = re.compile(
    r"(\S+):(\d+) \[([^\]]+)\] (\S+) ([^/\s]+)/(\S+) (-?\d+)/(-?\d+)/(-?\d+)/(-?\d+)/\+?(-?\d+) "
    r"(-?\d+) \+?(\d+) (\S+) (\S+) (\S{4}) (\d+)/(\d+)/(\d+)/(\d+)/\+?(\d+) (\d+)/(\d+) "
    r"(?:\{([^}]*)\} )?(?:\{([^}]*)\} )?\"(\S+) (\S+)(?: ([^\"]*))?\""
)


def _unq(value: str) -> str:
    if "\\" not in value:
        return value
    return value.replace('\\"', '"').replace("\\\\", "\\")


def parse_gorouter(line: str) -> dict[str, FieldValue] | None:
    """Fields of a gorouter access log line, or None when ``line`` is not one."""
    m = _GOROUTER.match(line)
    if m is None:
        return None
    host, start, method, uri, proto, status, received, sent, referer, agent, remote, dest, rest = m.groups()
    fields: dict[str, FieldValue] = {"host": host, "start": start, "method": method, "path": uri}
    fields["protocol"] = proto
    # the regex admits digits, "-" or - for these three
    if status.isdigit():
        fields["status"] = int(status)
    if received.isdigit():
        fields["bytes_received"] = int(received)
    if sent.isdigit():
        fields["bytes_sent"] = int(sent)
    for key, value in (("referer", referer), ("user_agent", agent), ("remote_addr", remote)):
        if value != "-":
            fields[key] = _unq(value) if "\\" in value else value
    if dest != "-":
        fields["backend_addr"] = dest
    for key, quoted, bare in _KV.findall(rest):
        # an empty quoted value leaves both empty
        value = (_unq(quoted) if "\\" in quoted else quoted) if quoted else bare
        if not value or value == "-":
            continue
        renamed = _GOROUTER_FLOATS.get(key)
        if renamed is not None:
            try:
                fields[renamed] = float(value)
            except ValueError:
                continue
        elif key == "app_index" and value.isdigit():
            fields["app_index"] = int(value)
        else:
            fields[key] = value
    return fields


def parse_haproxy(line: str) -> dict[str, FieldValue] | None:
    """Fields of a HAProxy ``option httplog`` line (without the syslog header), or None."""
    m = _HAPROXY.search(line)
    if m is None:
        return None
    g = m.groups()
    fields: dict[str, FieldValue] = {
        "client_ip": g[0],
        "client_port": int(g[1]),
        "accept_date": g[2],
        "frontend": g[3],
        "backend": g[4],
        "server": g[5],
        "time_request_ms": int(g[6]),
        "time_queue_ms": int(g[7]),
        "time_connect_ms": int(g[8]),
        "time_response_ms": int(g[9]),
        "time_active_ms": int(g[10]),
        "status": int(g[11]),
        "bytes_sent": int(g[12]),
        "termination_state": g[15],
        "method": g[25],
        "path": g[26],
    }
    if int(g[10]) >= 0:
        fields["response_time_s"] = int(g[10]) / 1000.0
    if g[27]:
        fields["protocol"] = g[27]
    if g[23]:
        fields["request_headers"] = g[23]
    if g[24]:
        fields["response_headers"] = g[24]
    return fields
