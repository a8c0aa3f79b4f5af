"""The metrics side over a real local platform: HAProxy's requests → gorouter/``http``, supervisord → Diego,
syslog drains in CF's format. One module-scoped platform + ``start_metrics``; Log Cache is asked over HTTP."""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from platforms.cf_sim.foundation import CFApp, Foundation, default_foundation
from platforms.cf_sim.log_cache_service import CFMetrics, CFMetricsConfig, start_metrics
from platforms.cf_sim.rep import DiegoConfig
from platforms.cf_sim.syslog_drain import DrainBinding
from platforms.cloudfoundry.log_cache_queries import derive_queries
from platforms.config import LogCacheConfig
from platforms.local.fault_client import inject_fault
from tests.platforms.conftest import RunningPlatform, running_platform
from tests.support.servers import wait_until

TOKEN = "platform-test-token"
PROD = CFApp("acme", "prod", "api", "api-acme-prod")
DEV = CFApp("acme", "dev", "api", "api-acme-dev")
FIXTURES = Path(__file__).parents[2] / "fixtures" / "cloudfoundry"
DIEGO = DiegoConfig(cells=2, cell_memory_mb=1024, cell_containers=2, instance_memory_mb=256, crash_hold_s=5)
RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|\[[^ \]]+(?: [^= \]]+=\"(?:[^\"\\\]]|\\.)*\")*\]) (?P<msg>.*)\n$",
    re.DOTALL,
)


class DrainServer:
    """A TCP syslog receiver (octet-counted frames, RFC 6587) on a free loopback port."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.frames: list[str] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"syslog://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while chunk := conn.recv(65536):
                buf += chunk
                while b" " in buf:
                    length, _, rest = buf.partition(b" ")
                    if len(rest) < int(length):
                        break
                    with self._lock:
                        self.frames.append(rest[: int(length)].decode())
                    buf = rest[int(length) :]

    def lines(self) -> list[str]:
        with self._lock:
            return list(self.frames)


class Sim:
    def __init__(
        self, plat: RunningPlatform, metrics: CFMetrics, drain: DrainServer, registry: CollectorRegistry
    ) -> None:
        self.registry = registry
        self.plat = plat
        self.metrics = metrics
        self.drain = drain
        self.http = httpx.Client(base_url=metrics.log_cache_url, headers={"Authorization": f"bearer {TOKEN}"})

    def value(self, query: str) -> float | None:
        """The single value of an instant query now (None: empty result)."""
        body = self.http.get("/api/v1/query", params={"query": query}).raise_for_status().json()
        assert body["status"] == "success" and body["data"]["resultType"] == "vector"
        result = body["data"]["result"]
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def wait_value(self, query: str, ok: object, what: str, timeout_s: float = 15.0) -> float:
        got: list[float | None] = [None]

        def check() -> bool:
            got[0] = self.value(query)
            return got[0] is not None and bool(ok(got[0]))  # type: ignore[operator]

        try:
            wait_until(check, timeout_s, what, interval_s=0.2)
        except TimeoutError as exc:
            raise AssertionError(f"{what}: last value of {query!r} was {got[0]}") from exc
        assert got[0] is not None
        return got[0]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    base = default_foundation()
    foundation = Foundation(base.orgs, base.spaces, (PROD, DEV))
    drain = DrainServer()
    root = tmp_path_factory.mktemp("cfm")
    with running_platform(root / "p", {PROD.local_app: 2, DEV.local_app: 1}) as plat:
        config = CFMetricsConfig(drains=(DrainBinding(PROD.guid, drain.url),), diego=DIEGO, interval_s=0.5)
        registry = CollectorRegistry()
        metrics = start_metrics(
            plat.platform,
            foundation,
            work_dir=root / "m",
            verify_token=lambda t: t == TOKEN,
            registry=registry,
            config=config,
        )
        try:
            yield Sim(plat, metrics, drain, registry)
        finally:
            metrics.stop()
            drain.sock.close()


def _http_count(guid: str, status: str = "...") -> str:
    return f'sum(count_over_time(http{{source_id="{guid}",status_code=~"{status}"}}[5m]))'


def test_requests_through_the_router_are_counted(sim: Sim) -> None:
    assert sim.metrics.router_tap_bound
    before = sim.value('total_requests{source_id="gorouter"}') or 0.0
    before_app = sim.value(_http_count(PROD.guid)) or 0.0
    codes = [sim.plat.via_router(PROD.local_app).status_code for _ in range(7)]
    assert codes == [200] * 7
    sim.wait_value(_http_count(PROD.guid), lambda v: v == before_app + 7, "7 http timers for the app")
    sim.wait_value('total_requests{source_id="gorouter"}', lambda v: v >= before + 7, "total_requests +7")
    # the timer's value is the request's duration in ns: HAProxy's Ta, whole milliseconds
    longest = sim.value(f'max(max_over_time(http{{source_id="{PROD.guid}"}}[5m]))')
    assert longest is not None and longest % 1_000_000 == 0 and longest < 5e9
    both = sim.value(f'count(count_over_time(http{{source_id="{PROD.guid}"}}[5m]) ) by ()')
    assert both == 2  # roundrobin over the two instances: one series per instance_id


def test_an_unknown_route_is_a_4xx_without_an_app_timer(sim: Sim) -> None:
    before = sim.value('responses_4xx{source_id="gorouter"}') or 0.0
    assert sim.plat.via_router("no-such-app").status_code == 404
    sim.wait_value('responses_4xx{source_id="gorouter"}', lambda v: v == before + 1, "responses_4xx +1")
    assert sim.value('count(count_over_time({__name__="http",status_code="404"}[5m]))') is None


def test_a_5xx_fault_raises_responses_5xx(sim: Sim) -> None:
    before = sim.value('responses_5xx{source_id="gorouter"}') or 0.0
    # the module's other tests may have had the app answer 5xx already (within the count's 5 minutes)
    before_app = sim.value(_http_count(DEV.guid, "5..")) or 0.0
    inject_fault(sim.plat.platform.paths, DEV.local_app, "errors", rate=1.0, for_s=20)
    codes = [sim.plat.via_router(DEV.local_app).status_code for _ in range(5)]
    assert codes == [500] * 5
    sim.wait_value('responses_5xx{source_id="gorouter"}', lambda v: v == before + 5, "responses_5xx +5")
    sim.wait_value(
        _http_count(DEV.guid, "5.."), lambda v: v == before_app + 5, "5 http timers with a 5xx status"
    )
    text = httpx.get(sim.metrics.gorouter_metrics_url).text
    [five] = [
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.labels.get("status_group") == "5xx"
    ]
    assert five >= 5


def test_gorouter_exporter_has_gorouters_families_and_labels(sim: Sim) -> None:
    sample = (FIXTURES / "gorouter" / "prometheus_metrics_sample.txt").read_text()
    reference = {f.name: f for f in text_string_to_metric_families(sample)}
    ours = list(text_string_to_metric_families(httpx.get(sim.metrics.gorouter_metrics_url).text))
    assert {"total_requests", "responses", "latency", "bad_gateways", "ms_since_last_registry_update"} <= {
        f.name for f in ours
    }
    for fam in ours:
        ref = reference[fam.name]
        assert fam.type == ref.type, fam.name
        label_names = {frozenset(set(s.labels) - {"le"}) for s in fam.samples}
        ref_names = {frozenset(set(s.labels) - {"le"}) for s in ref.samples}
        assert label_names <= ref_names, fam.name
        assert {s.name for s in fam.samples} <= {s.name for s in ref.samples}, fam.name


def test_router_gauges(sim: Sim) -> None:
    assert sim.wait_value('total_routes{source_id="gorouter"}', lambda v: v == 2, "two routes") == 2
    since = sim.value('ms_since_last_registry_update{source_id="gorouter"}')
    assert since is not None and 0 <= since <= 20_000 + 1_000
    fds = sim.value('file_descriptors{source_id="gorouter"}')
    assert fds is not None and fds > 3


def test_diego_capacity_follows_the_instances(sim: Sim) -> None:
    cells, per_cell = DIEGO.cells, DIEGO.cell_memory_mb
    sim.wait_value('sum(LRPsRunning{source_id="bbs"})', lambda v: v == 3, "3 LRPs running")
    remaining = sim.value('sum(CapacityRemainingMemory{source_id="rep"})')
    assert remaining == cells * per_cell - 3 * DIEGO.instance_memory_mb
    assert sim.value('sum(ContainerCount{source_id="rep"})') == 3
    assert sim.value('sum(LRPsMissing{source_id="bbs"})') == 0
    mem = sim.value(f'max(memory{{source_id="{PROD.guid}",instance_id="0"}})')
    assert mem is not None and mem > 10 * 1024 * 1024  # a Python web app's RSS


def test_a_crashed_instance_is_a_crashed_actual_lrp(sim: Sim) -> None:
    inject_fault(sim.plat.platform.paths, PROD.local_app, "crash", index=0)
    sim.wait_value('max_over_time(CrashedActualLRPs{source_id="bbs"}[1m])', lambda v: v >= 1, "a crashed LRP")


def test_a_scale_beyond_capacity_fails_an_auction(sim: Sim) -> None:
    failed = sim.value('AuctioneerLRPAuctionsFailed{source_id="auctioneer"}') or 0.0
    before = len(sim.plat.platform.instances(DEV.local_app))
    sim.plat.platform.scale(DEV.local_app, 3)  # 5 instances, 4 containers on the two cells
    try:
        sim.wait_value(
            'AuctioneerLRPAuctionsFailed{source_id="auctioneer"}',
            lambda v: v == failed + 1,
            "one failed auction",
        )
        assert (
            sim.wait_value(
                'sum(CapacityRemainingContainers{source_id="rep"})', lambda v: v == 0, "cells full"
            )
            == 0
        )
        assert sim.value('sum(LRPsUnclaimed{source_id="bbs"})') == 1
    finally:  # the module's foundation again: the other tests count its 3 instances, whatever their order
        sim.plat.platform.scale(DEV.local_app, before)
    sim.wait_value('sum(LRPsRunning{source_id="bbs"})', lambda v: v == 3, "the module's 3 LRPs running again")


def test_components_knobs_and_real_counters(sim: Sim) -> None:
    assert sim.value('max(system_healthy{source_id="bosh-system-metrics-forwarder",job="router"})') == 1
    sim.metrics.components.degrade("doppler_dropped", 100.0)
    try:
        sim.wait_value('rate(dropped{source_id="doppler"}[5s])', lambda v: v > 10, "doppler dropping")
    finally:
        sim.metrics.components.restore()
    assert (sim.value('ingress{source_id="log-cache"}') or 0) > 100
    assert sim.value('drains{source_id="syslog_agent"}') == 1
    for producer in ("gorouter", "diego", "components"):
        stored = sim.registry.get_sample_value("paramedic_cf_sim_points_total", {"producer": producer})
        assert stored is not None and stored > 0, producer
    assert (
        sim.registry.get_sample_value(
            "paramedic_cf_sim_producer_errors_total", {"producer": "diego", "reason": "LocalPlatformError"}
        )
        is None
    )
    queries = sim.registry.get_sample_value(
        "paramedic_cf_sim_log_cache_requests_total", {"route": "query", "code": "200"}
    )
    assert queries is not None and queries > 0


def test_drain_lines_are_rfc5424_with_cf_fields(sim: Sim) -> None:
    for _ in range(3):
        assert sim.plat.via_router(PROD.local_app).status_code == 200

    def parsed() -> list[re.Match[str]]:
        return [m for line in sim.drain.lines() if (m := RFC5424.match(line))]

    wait_until(
        lambda: (
            {m["procid"] for m in parsed()} >= {"[RTR/0]"}
            and any(m["procid"].startswith("[APP/PROC/WEB/") for m in parsed())
        ),
        15,
        "router and app lines at the drain",
    )
    lines = sim.drain.lines()
    sent = sim.registry.get_sample_value("paramedic_cf_sim_drain_lines_total", {"outcome": "sent"})
    assert sent is not None and sent >= len(lines) > 0
    assert len(parsed()) == len(lines), [line for line in lines if not RFC5424.match(line)][:3]
    for m in parsed():
        assert m["host"] == "acme.prod.api"
        assert m["app"] == PROD.guid
        assert m["msgid"] == "-"
        assert m["pri"] in ("14", "11")
        assert dt.datetime.fromisoformat(m["ts"]).tzinfo is not None
        tags = dict(re.findall(r' ([^= \]]+)="((?:[^"\\]|\\.)*)"', m["sd"]))
        assert m["sd"].startswith("[tags@47450 ")
        assert (
            tags["app_id"] == PROD.guid
            and tags["organization_name"] == "acme"
            and tags["space_name"] == "prod"
        )
        assert re.fullmatch(r"\[(RTR/0|APP/PROC/WEB/[01])\]", m["procid"])
        if m["procid"] == "[RTR/0]":
            assert '"GET / HTTP/1.1" 200' in m["msg"] and tags["source_type"] == "RTR"
        else:
            assert tags["source_type"] == "APP/PROC/WEB" and tags["instance_id"] == m["procid"][-2]


def test_every_query_the_cf_packs_need_gets_data(sim: Sim) -> None:
    """Issue 13 "no KPI left without its input": every Log Cache query Paramedic derives from the
    cloudfoundry and cloudfoundry-apps rule packs (platform KPIs, named aggregations, per-app queries for an
    app that served requests, some of them 5xx) answers with at least one series from the simulation."""
    paths = LogCacheConfig(url="http://127.0.0.1:1").pack_paths()
    queries = [q.expr.replace("{app_guid}", DEV.guid) for q in derive_queries(paths)]
    assert len(queries) > 50
    inject_fault(sim.plat.platform.paths, DEV.local_app, "errors", rate=0.5, for_s=20)
    empty: list[str] = []

    def all_answer() -> bool:
        for _ in range(4):
            sim.plat.via_router(DEV.local_app)
        empty[:] = [q for q in queries if not _answers(sim, q)]
        return not empty

    try:
        wait_until(all_answer, 30, "every derived query to answer", interval_s=0.5)
    except TimeoutError as exc:
        raise AssertionError(f"no data for {len(empty)} queries: {empty}") from exc


def _answers(sim: Sim, query: str) -> bool:
    body = sim.http.get("/api/v1/query", params={"query": query}).json()
    return body.get("status") == "success" and bool(body["data"]["result"])
