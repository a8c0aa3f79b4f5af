"""Cloud Foundry, BOSH and local-platform enrichment, end to end from syslog bytes."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from log_pipeline.enrich import enrich, parse_gorouter, parse_haproxy
from log_pipeline.model import LogRecord, RawMessage
from log_pipeline.syslog import parse_syslog, to_record

GUID = "6f4b1ad4-2a36-4b6c-8ad1-2ab5ce0d7b11"
# gorouter accesslog/schema/access_log_record.go makeRecord() field order
RTR = (
    'myapp.example.com - [2024-03-10T12:00:00.123456789Z] "GET /api/v1/items?x=1 HTTP/1.1" 503 0 67 '
    '"-" "curl/8.5.0" "10.0.0.5:51234" "10.0.16.4:61001" x_forwarded_for:"203.0.113.7, 10.0.0.5" '
    'x_forwarded_proto:"https" vcap_request_id:"1b2c3d4e-0000-4000-8000-000000000001" '
    'response_time:0.012345 gorouter_time:0.000321 app_id:"' + GUID + '" app_index:"2" '
    'instance_id:"9f1e2d3c-aaaa-bbbb-cccc-0123456789ab" route_service_url:"-" x_cf_routererror:"-" '
    'x_b3_traceid:"abc" x_b3_spanid:"def" x_b3_parentspanid:"-" b3:"abc-def"'
)
HAPROXY = (
    "127.0.0.1:39028 [10/Mar/2024:12:00:00.123] fe_http be_shop/shop-1 0/0/1/5/6 500 512 - - ---- "
    '1/1/0/0/0 0/0 "POST /cart HTTP/1.1"'
)


def _record(line: bytes) -> LogRecord:
    raw = RawMessage(data=line, received_ns=1, transport="relp", peer="p")
    return enrich(to_record(parse_syslog(line), raw, "id"))


def test_gorouter_access_line() -> None:
    fields = parse_gorouter(RTR)
    assert fields is not None
    assert {k: fields[k] for k in ("method", "path", "status", "response_time_s", "app_index")} == {
        "method": "GET",
        "path": "/api/v1/items?x=1",
        "status": 503,
        "response_time_s": 0.012345,
        "app_index": 2,
    }
    assert fields["x_forwarded_for"] == "203.0.113.7, 10.0.0.5"
    assert fields["user_agent"] == "curl/8.5.0"
    assert fields["vcap_request_id"] == "1b2c3d4e-0000-4000-8000-000000000001"
    assert fields["gorouter_time_s"] == 0.000321 and fields["app_id"] == GUID
    assert "referer" not in fields and "route_service_url" not in fields
    assert parse_gorouter("not an access line") is None


@pytest.mark.parametrize(
    ("procid", "source", "instance"),
    [("[APP/PROC/WEB/0]", "APP/PROC/WEB", "0"), ("[CELL/0]", "CELL", "0"), ("[API/1]", "API", "1"),
     ("[STG/0]", "STG", "0"), ("[APP/TASK/migrate/3]", "APP/TASK/migrate", "3")],
)  # fmt: skip
def test_cf_drain_sources(procid: str, source: str, instance: str) -> None:
    line = f"<14>1 2024-03-10T12:00:00Z org1.dev.shop {GUID} {procid} - - hello".encode()
    rec = _record(line)
    assert rec.labels["source"] == source and rec.labels["instance"] == instance
    assert (rec.labels["org"], rec.labels["space"], rec.labels["app"]) == ("org1", "dev", "shop")
    assert rec.fields["app_guid"] == GUID


def test_cf_router_line() -> None:
    line = f"<14>1 2024-03-10T12:00:00Z org1.dev.shop {GUID} [RTR/1] - - {RTR}".encode()
    rec = _record(line)
    assert rec.labels["source"] == "RTR" and rec.labels["instance"] == "1"
    assert rec.fields["status"] == 503 and rec.fields["method"] == "GET"


def test_bosh_structured_data() -> None:
    line = (
        b'<13>1 2024-03-10T12:00:00.5Z 10.0.16.4 gorouter - - [instance@47450 director="" deployment="cf" '
        b'group="router" az="z1" id="4a1b2c3d-0000-4000-8000-0000000000aa"] started'
    )
    rec = _record(line)
    assert {k: rec.labels[k] for k in ("deployment", "job", "az", "instance_id")} == {
        "deployment": "cf",
        "job": "router",
        "az": "z1",
        "instance_id": "4a1b2c3d-0000-4000-8000-0000000000aa",
    }


def test_local_app_and_haproxy() -> None:
    app = _record(b"<14>1 2024-03-10T12:00:00Z paramedic-demo shop 2 APP - listening on :8080")
    assert (app.labels["app"], app.labels["instance"], app.labels["source"]) == ("shop", "2", "APP")
    fields = parse_haproxy(HAPROXY)
    assert fields is not None
    assert (fields["method"], fields["path"], fields["status"]) == ("POST", "/cart", 500)
    assert (fields["backend"], fields["server"], fields["response_time_s"]) == ("be_shop", "shop-1", 0.006)
    rec = _record(b"<134>1 2024-03-10T12:00:00Z demo haproxy 1234 - - " + HAPROXY.encode())
    assert rec.labels["app"] == "be_shop" and rec.labels["source"] == "RTR" and rec.fields["status"] == 500


def test_local_app_logfmt_pairs_become_fields() -> None:
    line = (
        b"<12>1 2024-03-10T12:00:00Z demo shop 1 APP - 2024-03-10 12:00:00 WARNING sample_app.access: access "
        b'method=GET path=/api/items status=500 duration_ms=0.4 note="two words" big=1e400 procid=9'
    )
    rec = _record(line)
    assert rec.fields["status"] == 500 and rec.fields["duration_ms"] == 0.4
    assert (rec.fields["method"], rec.fields["path"], rec.fields["note"]) == (
        "GET",
        "/api/items",
        "two words",
    )
    assert rec.fields["big"] == "1e400"  # not a finite number: kept as text
    assert rec.fields["procid"] == "1"  # header fields are never overwritten by the message
    many = b" ".join(b"k%d=%d" % (i, i) for i in range(40))
    capped = _record(b"<14>1 2024-03-10T12:00:00Z demo shop 1 APP - " + many)
    assert capped.fields["k31"] == 31 and "k32" not in capped.fields  # at most 32 pairs per line


def test_unknown_format_untouched() -> None:
    line = b"<14>1 2024-03-10T12:00:00Z host sshd 1234 - - Accepted publickey"
    raw = RawMessage(data=line, received_ns=1, transport="tcp", peer="p")
    before = to_record(parse_syslog(line), raw, "id")
    after = enrich(to_record(parse_syslog(line), raw, "id"))
    assert after == before


def test_cli_parse_syslog() -> None:
    stdin = b'<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 [a b="c"] hi\n<1>1 -\n'
    proc = subprocess.run(
        [sys.executable, "-m", "paramedic.cli", "parse", "syslog"],
        input=stdin,
        capture_output=True,
        check=False,
    )
    lines = [orjson.loads(x) for x in proc.stdout.splitlines()]
    assert proc.returncode == 1
    assert lines == [
        {
            "priority": 34, "facility": 4, "severity": 2, "version": 1,
            "timestamp": "2003-10-11T22:14:15.003Z", "hostname": "mymachine", "appname": "su",
            "msgid": "ID47", "structured_data": {"a": {"b": "c"}}, "message": "hi",
        },
        {"error": "parsing error [col 6]"},
    ]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "paramedic.cli", "parse", "syslog", "--best-effort"],
        input=b"<1>1 -\n",
        capture_output=True,
        check=False,
    )
    assert orjson.loads(proc.stdout) == {
        "priority": 1, "facility": 0, "severity": 1, "version": 1, "error": "parsing error [col 6]"
    }  # fmt: skip
