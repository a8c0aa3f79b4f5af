"""The platform's rsyslog for real: instance output and HAProxy access lines -> omrelp -> LogReceivers (RELP)
-> FileSpool, parsed and enriched like the ingest path does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from log_pipeline.enrich import enrich
from log_pipeline.model import LogRecord, RawMessage
from log_pipeline.spool import FileSpool
from log_pipeline.syslog import parse_syslog, to_record
from platforms.local import LocalPlatformRunner, PlatformState
from platforms.local.processes import process_alive
from tests.log_pipeline.receivers_harness import Harness, port0_config
from tests.support.servers import require_binary, wait_until

pytestmark = pytest.mark.integration

# what rsyslog sends for an app line (template paramedic_rfc5424): PRI user.info, version 1, RFC 3339 time
APP_LINE = re.compile(
    rb"<14>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d \S+ web 1 APP - "
    rb"\S+ \S+ INFO sample_app\.access: access method=GET path=/api/items status=200 duration_ms=\d+\.\d"
)
# HAProxy's httplog line: local0.info (134), app-name haproxy, proc-id its PID, no msg-id, no SD
ROUTER_LINE = re.compile(
    rb"<134>1 \S+ \S+ haproxy \d+ - - 127\.0\.0\.1:\d+ \[[^]]+\] "
    rb'router web/web-\d .* "GET /api/items HTTP/1\.1"'
)


@dataclass
class Forwarding:
    runner: LocalPlatformRunner
    state: PlatformState
    harness: Harness

    def request(self, path: str = "/api/items") -> int:
        url = f"http://127.0.0.1:{self.state.router_port}{path}"
        return httpx.get(url, headers={"Host": "web.local"}, timeout=5).status_code

    def wait_for(self, pattern: re.Pattern[bytes], what: str) -> RawMessage:
        """Keep sending requests (rsyslog may only reconnect on a new message) until a line matches."""
        found: list[RawMessage] = []

        def seen() -> bool:
            self.request()
            found.extend(m for _, m in self.harness.spool.read(0, 1_000_000) if pattern.fullmatch(m.data))
            return bool(found)

        wait_until(seen, 30, what, interval_s=0.2)
        return found[0]


def _record(raw: RawMessage) -> LogRecord:
    """What the ingest path makes of it: parse, then enrich."""
    return enrich(to_record(parse_syslog(raw.data), raw, "1"))


@pytest.fixture(scope="module")
def forwarding(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Forwarding]:
    root = tmp_path_factory.mktemp("fwd")
    harness = Harness(port0_config(), FileSpool(root / "spool"))
    runner = LocalPlatformRunner(
        root / "plat",
        haproxy=require_binary("haproxy"),
        node_exporter=require_binary("prometheus-node-exporter"),
        registry=CollectorRegistry(),
        relp_target=("127.0.0.1", harness.receivers.ports["relp"]),
        rsyslogd=require_binary("rsyslogd"),
    )
    state = runner.init({"web": 2})
    try:
        runner.start(timeout_s=30)
        yield Forwarding(runner, state, harness)
    finally:
        runner.stop()
        harness.close()


def test_app_lines_arrive_as_rfc5424_with_app_procid_and_msgid(forwarding: Forwarding) -> None:
    raw = forwarding.wait_for(APP_LINE, "an access line of web/1 over RELP")
    record = _record(raw)
    assert record.labels["app"] == "web"
    assert record.labels["instance"] == "1"
    assert record.labels["source"] == "APP"
    assert record.fields["msgid"] == "APP"
    assert record.fields["appname"] == "web" and record.fields["procid"] == "1"
    assert raw.transport == "relp"
    assert " INFO sample_app.access: access method=GET path=/api/items status=200 " in record.message


def test_router_lines_arrive_and_parse_into_access_fields(forwarding: Forwarding) -> None:
    raw = forwarding.wait_for(ROUTER_LINE, "an HAProxy httplog line over RELP")
    record = _record(raw)
    assert record.fields["appname"] == "haproxy"
    assert record.labels["app"] == "web"
    assert record.labels["source"] == "RTR"
    assert record.fields["status"] == 200
    assert record.fields["method"] == "GET"
    assert record.fields["backend"] == "web"


def test_rsyslog_is_a_recorded_platform_process_and_stops_with_it(forwarding: Forwarding) -> None:
    records = {r.name: r for r in forwarding.runner.records()}
    assert "rsyslogd" in records
    assert Path(forwarding.runner.paths.rsyslog_pid).exists()
    forwarding.runner.stop()
    assert not process_alive(records["rsyslogd"])
