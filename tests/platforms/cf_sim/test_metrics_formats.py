"""Pure parts of the metrics side: HAProxy access lines, gorouter counting, exposition, RFC 5424 escaping."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from platforms.cf_sim.foundation import CFApp, Foundation, default_foundation
from platforms.cf_sim.gorouter import GorouterProducer
from platforms.cf_sim.gorouter_access import RouterAccessTap, parse_httplog
from platforms.cf_sim.gorouter_exporter import render_gorouter_metrics
from platforms.cf_sim.log_cache_promql import exposition_lines
from platforms.cf_sim.log_cache_store import Point, log_cache_name
from platforms.cf_sim.syslog_format import frame, rfc5424
from platforms.local import LocalPlatform
from platforms.local.errors import RouterUnavailableError
from tests.support.servers import wait_until

# Datagrams HAProxy 2.6 sent to the router log socket of a local platform (captured while writing this test):
# a routed 200, an unknown host (gorouter's 404), and a request to an app whose only instance was stopped.
OK = (
    "<134>Dec  5 22:16:33 haproxy[17000]: 127.0.0.1:40374 [05/Dec/2026:22:16:33.732] router shop/shop-0 "
    '0/0/0/2/2 200 234 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"\n'
)
NO_ROUTE = (
    "<134>Dec  5 22:16:33 haproxy[17000]: 127.0.0.1:40382 [05/Dec/2026:22:16:33.961] router "
    'no_route/<NOSRV> 0/-1/-1/-1/0 404 141 - - LR-- 1/1/0/0/0 0/0 "GET / HTTP/1.1"\n'
)
REFUSED = (
    "<134>Dec  5 22:16:35 haproxy[17000]: 127.0.0.1:40398 [05/Dec/2026:22:16:34.128] router shop/shop-0 "
    '0/1002/-1/-1/1002 503 217 - - SC-- 1/1/0/0/1 0/0 "GET / HTTP/1.1"\n'
)
SHOP = CFApp("acme", "prod", "shop", "shop")


def test_parse_httplog_reads_haproxys_lines() -> None:
    ok = parse_httplog(OK, 10.0)
    assert ok is not None
    assert (ok.backend, ok.server, ok.instance_index, ok.status, ok.method, ok.path) == (
        "shop",
        "shop-0",
        "0",
        200,
        "GET",
        "/",
    )
    assert (ok.duration_ms, ok.bytes_sent, ok.termination, ok.time_s) == (2, 234, "----", 10.0)
    no_route = parse_httplog(NO_ROUTE, 11.0)
    assert no_route is not None and no_route.backend == "no_route" and no_route.instance_index is None
    refused = parse_httplog(REFUSED, 12.0)
    assert refused is not None and refused.duration_ms == 1002 and refused.termination == "SC--"
    assert parse_httplog("<134>Dec  5 22:16:33 haproxy[1]: Proxy router started.", 1.0) is None


def _producer(tmp: Path) -> tuple[GorouterProducer, RouterAccessTap]:
    def down(cmd: str) -> str:
        raise RouterUnavailableError(cmd, "not running")

    platform = cast(LocalPlatform, SimpleNamespace(router=SimpleNamespace(command=down)))
    base = default_foundation()
    tap = RouterAccessTap(tmp / "r.sock", registry=CollectorRegistry(), clock=lambda: 100.0)
    return GorouterProducer(Foundation(base.orgs, base.spaces, (SHOP,)), platform, tap), tap


def test_gorouter_counts_and_timers(tmp_path: Path) -> None:
    producer, tap = _producer(tmp_path)
    for line in (OK, OK, NO_ROUTE, REFUSED):
        assert tap.feed(line) is not None
    points = producer.sample(101.0)
    timers = [p for p in points if p.name == "http"]
    assert [(p.source_id, p.tags["status_code"], p.value, p.kind) for p in timers] == [
        (SHOP.guid, "200", 2e6, "timer"),
        (SHOP.guid, "200", 2e6, "timer"),
        (SHOP.guid, "503", 1002e6, "timer"),
    ]
    assert sorted(p.value for p in points if p.name == "latency") == [0, 2, 2, 1002]
    # a router that does not answer emits no counters or gauges, but its totals still count the requests
    assert {p.name for p in points} == {"http", "latency"}
    totals = producer.totals()
    assert totals.counters["total_requests"] == 4
    assert totals.counters["responses_2xx"] == 2 and totals.counters["responses_4xx"] == 1
    assert totals.counters["responses_5xx"] == 1 and totals.counters["bad_gateways"] == 1
    assert totals.routed_requests == 3
    families = {f.name: f for f in text_string_to_metric_families(render_gorouter_metrics(totals))}
    routed = {s.labels["is_routed_app"]: s.value for s in families["total_requests"].samples}
    assert routed == {"yes": 3, "no": 1}
    count = [s.value for s in families["latency"].samples if s.name == "latency_count"]
    assert count == [4]


def test_exposition_lines_escape_label_values() -> None:
    text = exposition_lines([Point("g", "m", 1.5, 2.0, {"a": 'x"y\\z\nw'})])
    assert text == 'm{a="x\\"y\\\\z\\nw",source_id="g"} 1.5 2000\n'
    [fam] = text_string_to_metric_families(text.replace(" 2000", ""))
    assert fam.samples[0].labels == {"a": 'x"y\\z\nw', "source_id": "g"}
    assert log_cache_name("requests.outstanding-x") == "requests_outstanding_x"


def test_rfc5424_escapes_structured_data_and_frames_by_octets() -> None:
    line = rfc5424(14, 0.5, "o.s.a", "guid", "[APP/PROC/WEB/0]", {"k": 'a"b]c\\'}, "héllo\nworld")
    m = re.fullmatch(
        r"<14>1 1970-01-01T00:00:00\.500000Z o\.s\.a guid \[APP/PROC/WEB/0\] - "
        r'\[tags@47450 k="(.*)"\] (.*)\n',
        line,
    )
    assert m is not None
    assert m[1] == 'a\\"b\\]c\\\\' and m[2] == "héllo world"
    framed = frame(line)
    length, _, rest = framed.partition(b" ")
    assert int(length) == len(rest) == len(line.encode())


def test_tap_relays_to_the_socket_owner(tmp_path: Path) -> None:
    """With rsyslog holding the router's log socket, the tap takes the path and passes every line on."""
    path = tmp_path / "router-log.sock"
    owner = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # stands in for rsyslog's imuxsock
    owner.bind(str(path))
    owner.settimeout(5)
    registry = CollectorRegistry()
    tap = RouterAccessTap(path, registry=registry, relay=True)
    tap.start()
    try:
        assert tap.relay_to is not None and tap.relay_to.exists()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as haproxy:
            haproxy.sendto(OK.encode(), str(path))  # as HAProxy does: sendto the configured path
        assert owner.recv(8192).decode() == OK
        wait_until(
            lambda: (
                registry.get_sample_value("paramedic_cf_sim_router_lines_total", {"outcome": "parsed"}) == 1
            ),
            5,
            "the tap parsed it",
        )
        assert [r.status for r in tap.drain()] == [200]
    finally:
        tap.stop()
    # the owner's socket is back under its own name
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as haproxy:
        haproxy.sendto(NO_ROUTE.encode(), str(path))
    assert owner.recv(8192).decode() == NO_ROUTE
    owner.close()


def test_tap_without_relay_refuses_a_socket_in_use(tmp_path: Path) -> None:
    path = tmp_path / "router-log.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as owner:
        owner.bind(str(path))
        with pytest.raises(OSError, match="in use"):
            RouterAccessTap(path, registry=CollectorRegistry()).start()
