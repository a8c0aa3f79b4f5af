"""Syslog parse throughput (msgs/s, one core): go-syslog valid cases and realistic Cloud Foundry lines.

Run: .venv/bin/python bench/syslog_parse.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from collections.abc import Callable
from pathlib import Path

from log_pipeline.enrich import enrich
from log_pipeline.model import RawMessage
from log_pipeline.syslog import SyslogParser, parse_rfc5424, parse_syslog

ROOT = Path(__file__).resolve().parent.parent
GUID = "6f4b1ad4-2a36-4b6c-8ad1-2ab5ce0d7b11"
CF_LINES = [
    f"<14>1 2024-03-10T12:00:00.123456+00:00 org1.dev.shop {GUID} [APP/PROC/WEB/0] - "
    f'[tags@47450 app_id="{GUID}" instance_id="0" source_type="APP/PROC/WEB"] '
    "2024-03-10 12:00:00 INFO  c.e.shop.Cart - added item 4711 to cart 99 for user 123",
    f"<14>1 2024-03-10T12:00:00.223456Z org1.dev.shop {GUID} [RTR/1] - - "
    'shop.example.com - [2024-03-10T12:00:00.123456789Z] "GET /api/items HTTP/1.1" 200 0 512 "-" '
    '"curl/8.5.0" "10.0.0.5:51234" "10.0.16.4:61001" x_forwarded_for:"203.0.113.7" '
    'x_forwarded_proto:"https" vcap_request_id:"1b2c3d4e-0000-4000-8000-000000000001" '
    f'response_time:0.012345 gorouter_time:0.000321 app_id:"{GUID}" app_index:"0" '
    'instance_id:"9f1e2d3c" route_service_url:"-" x_cf_routererror:"-"',
    '<13>1 2024-03-10T12:00:00.5Z 10.0.16.4 gorouter - - [instance@47450 director="" deployment="cf" '
    'group="router" az="z1" id="4a1b2c3d"] route registered',
    "<86>Mar 10 12:00:00 cell-1 sshd[4321]: Accepted publickey for vcap from 10.0.0.1 port 55 ssh2",
]


def _rate(fn: Callable[[bytes], object], lines: list[bytes], seconds: float) -> float:
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for line in lines:
            fn(line)
        n += len(lines)
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    cases = json.loads((ROOT / "tests/fixtures/syslog/rfc5424_cases.json").read_text())
    valid = [base64.b64decode(c["input_b64"]) for c in cases if c["valid"]]
    cf = [line.encode() for line in CF_LINES]
    parser = SyslogParser(registry=None)

    def record(line: bytes) -> object:
        raw = RawMessage(data=line, received_ns=0, transport="relp", peer="p")
        return enrich(parser.to_record(raw, "id"))

    rows = [
        ("parse_rfc5424, go-syslog valid cases", _rate(parse_rfc5424, valid, args.seconds), len(valid)),
        ("parse_syslog (auto), CF lines", _rate(parse_syslog, cf, args.seconds), len(cf)),
        ("to_record + enrich, CF lines", _rate(record, cf, args.seconds), len(cf)),
    ]
    print(f"{'benchmark':45} {'msgs/s':>12}  distinct inputs")
    for name, rate, distinct in rows:
        print(f"{name:45} {rate:12,.0f}  {distinct}")


if __name__ == "__main__":
    main()
