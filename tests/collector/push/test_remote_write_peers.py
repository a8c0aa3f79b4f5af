"""Real remote-write senders into Paramedic: Debian's Prometheus 2.42 (remote write 1.0), Prometheus 3.16
built from its Go module (remote write 2.0, ``protobuf_message: io.prometheus.write.v2.Request``; marked
``prometheus3``) and vmagent (VictoriaMetrics 1.79) scrape the same static exporter and remote-write
into Paramedic (bearer token of role metrics-writer).

Oracle: the sender's own record of what it scraped. Prometheus is queried for every raw sample of the job
(``{job="..."}[5m]`` at a fixed time) and so is Paramedic: the two answers must be identical, series for
series and sample for sample. vmagent keeps nothing queryable itself, so it writes to a VictoriaMetrics
single node as well, and ``/api/v1/export`` there is the record Paramedic is compared with. VictoriaMetrics
stores floats as decimals of about 15 significant digits (1.7976931348623157e308 comes back as
1.797693134862315e308), so there values are compared to a relative 1e-14; Prometheus' are compared exactly."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.collector.push.live import LiveParamedic, live_paramedic
from tests.support import prometheus3
from tests.support.peers import static_exporter
from tests.support.servers import ManagedProcess, free_port, require_binary, wait_http, wait_until

pytestmark = pytest.mark.integration

EXPOSITION = b"""# TYPE rw_temperature_celsius gauge
rw_temperature_celsius{room="a"} 21.5
rw_temperature_celsius{room="b"} -3.25e-7
# TYPE rw_requests_total counter
rw_requests_total{code="200",path="/x"} 1027
rw_requests_total{code="500",path="/x"} 3
# TYPE rw_latency_seconds histogram
rw_latency_seconds_bucket{le="0.1"} 5
rw_latency_seconds_bucket{le="1"} 9
rw_latency_seconds_bucket{le="+Inf"} 10
rw_latency_seconds_sum 4.75
rw_latency_seconds_count 10
# TYPE rw_big gauge
rw_big 1.7976931348623157e+308
"""
Series = dict[frozenset[tuple[str, str]], list[tuple[int, float]]]


@pytest.fixture(scope="module")
def paramedic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveParamedic]:
    with live_paramedic(tmp_path_factory.mktemp("rwpeers")) as p:
        yield p


@pytest.fixture(scope="module")
def exporter() -> Iterator[str]:
    with static_exporter({"/metrics": EXPOSITION}) as address:
        yield address


def _matrix(result: list[dict[str, Any]]) -> Series:
    return {
        frozenset(r["metric"].items()): [(round(float(t) * 1000), float(v)) for t, v in r["values"]]
        for r in result
    }


def _same(a: Series, b: Series, rel: float = 0.0) -> bool:
    if a.keys() != b.keys():
        return False
    for key, samples in a.items():
        other = b[key]
        if [t for t, _ in samples] != [t for t, _ in other]:
            return False
        for (_, x), (_, y) in zip(samples, other, strict=True):
            if not (repr(x) == repr(y) or (rel and math.isclose(x, y, rel_tol=rel))):
                return False
    return True


def _diff(a: Series, b: Series) -> str:
    only_a = [dict(k) for k in a.keys() - b.keys()][:3]
    only_b = [dict(k) for k in b.keys() - a.keys()][:3]
    unequal = [(dict(k), a[k][-3:], b[k][-3:]) for k in a.keys() & b.keys() if a[k] != b[k]][:3]
    return f"only in the sender: {only_a}; only in Paramedic: {only_b}; different samples: {unequal}"


@pytest.mark.parametrize(
    ("sender", "message"),
    [
        ("2.42", "prometheus.WriteRequest"),
        pytest.param("3", "io.prometheus.write.v2.Request", marks=pytest.mark.prometheus3),
    ],
    ids=["prometheus-2.42-rw1", "prometheus-3-rw2"],
)
def test_prometheus_remote_writes_every_scraped_sample(
    paramedic: LiveParamedic, exporter: str, tmp_path: Path, sender: str, message: str
) -> None:
    port, job = free_port(), f"prom{sender}-rw"
    binary = require_binary("prometheus") if sender == "2.42" else str(prometheus3.binary())
    proto = f"    protobuf_message: {message}\n" if sender == "3" else ""  # 2.42 knows only 1.0 (no such key)
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        f"scrape_configs: [{{job_name: {job}, static_configs: [{{targets: ['{exporter}']}}]}}]\n"
        "remote_write:\n"
        f"  - url: {paramedic.url}/api/v1/write\n"
        f"    authorization: {{credentials: {paramedic.writer}}}\n"
        f"{proto}"
        "    queue_config: {batch_send_deadline: 1s, max_samples_per_send: 40}\n"
    )
    registry = paramedic.paramedic.registry
    version = "2.0" if sender == "3" else "1.0"
    requests_before = registry.get_sample_value(
        "paramedic_push_remote_write_requests_total", {"version": version}
    )
    prom = ManagedProcess(
        "prometheus",
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp_path / "prometheus.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/-/ready", 30, prom)

        def prom_query(expr: str, at: float) -> list[dict[str, Any]]:
            r = httpx.get(f"{base}/api/v1/query", params={"query": expr, "time": at}, timeout=10)
            result: list[dict[str, Any]] = r.json()["data"]["result"]
            return result

        def scraped_enough() -> bool:
            got = prom_query(f'count_over_time(up{{job="{job}"}}[5m])', time.time())
            return bool(got) and float(got[0]["value"][1]) >= 4

        wait_until(scraped_enough, 30, "four scrapes by Prometheus")
        at = round(time.time(), 3)
        expr = f'{{job="{job}"}}[5m]'
        truth = _matrix(prom_query(expr, at))
        assert len(truth) >= 14 and all(len(v) >= 4 for v in truth.values()), truth.keys()
        got: list[Series] = [{}]

        def paramedic_has_it_all() -> bool:
            got[0] = _matrix(paramedic.query(expr, at))
            return _same(truth, got[0])

        try:
            wait_until(paramedic_has_it_all, 30, "Paramedic to hold every sample Prometheus scraped", 0.5)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}: {_diff(truth, got[0])}\n{prom.log_tail()}") from exc
        requests = registry.get_sample_value(
            "paramedic_push_remote_write_requests_total", {"version": version}
        )
        assert (requests or 0.0) > (requests_before or 0.0), f"no remote write {version} request arrived"
    finally:
        prom.stop()


def _export(vm: str, job: str, end_s: float) -> Series:
    r = httpx.get(f"{vm}/api/v1/export", params={"match[]": f'{{job="{job}"}}', "end": end_s}, timeout=10)
    out: Series = {}
    for line in r.content.splitlines():
        row = orjson.loads(line)
        samples = [
            (t, float(v)) for t, v in zip(row["timestamps"], row["values"], strict=True) if t <= end_s * 1000
        ]
        out[frozenset(row["metric"].items())] = [(t, v) for t, v in samples if not math.isnan(v)]
    return out


def test_vmagent_remote_writes_every_scraped_sample(
    paramedic: LiveParamedic, exporter: str, tmp_path: Path
) -> None:
    vm_port, agent_port = free_port(), free_port()
    (tmp_path / "scrape.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        f"scrape_configs: [{{job_name: vmagent-rw, static_configs: [{{targets: ['{exporter}']}}]}}]\n"
    )
    vm = ManagedProcess(
        "victoria-metrics",
        [
            require_binary("victoria-metrics"),
            f"-storageDataPath={tmp_path / 'vm'}",
            f"-httpListenAddr=127.0.0.1:{vm_port}",
            "-retentionPeriod=1",
            "-search.latencyOffset=0s",
        ],
        tmp_path / "vm.log",
    )
    agent: ManagedProcess | None = None
    vm_url = f"http://127.0.0.1:{vm_port}"
    try:
        wait_http(f"{vm_url}/health", 30, vm)
        agent = ManagedProcess(
            "vmagent",
            [
                require_binary("vmagent"),
                f"-promscrape.config={tmp_path / 'scrape.yml'}",
                f"-httpListenAddr=127.0.0.1:{agent_port}",
                f"-remoteWrite.tmpDataPath={tmp_path / 'agent'}",
                f"-remoteWrite.url={vm_url}/api/v1/write",
                f"-remoteWrite.url={paramedic.url}/api/v1/write",
                "-remoteWrite.bearerToken=unused-by-victoria-metrics",
                f"-remoteWrite.bearerToken={paramedic.writer}",
                "-remoteWrite.flushInterval=500ms",
            ],
            tmp_path / "vmagent.log",
        )
        wait_http(f"http://127.0.0.1:{agent_port}/health", 30, agent)

        def scraped_enough() -> bool:
            up = _export(vm_url, "vmagent-rw", time.time()).get(
                frozenset({"__name__": "up", "job": "vmagent-rw", "instance": exporter}.items()), []
            )
            return len(up) >= 3

        wait_until(scraped_enough, 45, "three scrapes by vmagent in VictoriaMetrics", 0.5)
        # vmagent keeps scraping and sending: both receivers eventually hold every sample up to `at`
        at = round(time.time() - 1, 3)
        got: list[Series] = [{}]
        truth: list[Series] = [{}]

        def both_agree() -> bool:
            truth[0] = _export(vm_url, "vmagent-rw", at)
            got[0] = _matrix(paramedic.query('{job="vmagent-rw"}[5m]', at))
            return len(truth[0]) >= 14 and _same(truth[0], got[0], rel=1e-14)

        try:
            wait_until(
                both_agree, 30, "Paramedic and VictoriaMetrics to hold the same samples from vmagent", 0.5
            )
        except TimeoutError as exc:
            raise AssertionError(f"{exc}: {_diff(truth[0], got[0])}") from exc
        assert all(len(v) >= 3 for v in truth[0].values())
    finally:
        if agent is not None:
            agent.stop()
        vm.stop()
