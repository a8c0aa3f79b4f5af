"""Real OTLP senders into Paramedic: the OpenTelemetry Python SDK's OTLP/HTTP exporters (metrics and logs)
directly, and through a real OpenTelemetry Collector (``scripts/build_otelcol.sh``: otlpreceiver ->
otlphttpexporter, and -> contrib's prometheusremotewriteexporter into ``/api/v1/write``, once as remote write
1.0 and once as 2.0 behind its ``enableSendingRW2`` feature gate, which checks the ``-Written`` headers).

A differential test sends one export to Prometheus 3's own OTLP receiver (``--web.enable-otlp-receiver``; the
binary of ``scripts/build_prometheus3.sh``, marked ``prometheus3``) and to Paramedic: same series, same
values.

Oracle: what the test recorded through the SDK's instruments (a counter added 5 + 7, a histogram of four
observations, ...) and the names Prometheus 3 documents for them; the values found in Paramedic must be
exactly those, whichever way they came."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from tests.collector.push.live import LiveParamedic, live_paramedic
from tests.support import prometheus3
from tests.support.otelcol import binary
from tests.support.servers import ManagedProcess, free_port, wait_http, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def paramedic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveParamedic]:
    with live_paramedic(tmp_path_factory.mktemp("otlppeers")) as p:
        yield p


def _resource(job: str) -> Resource:
    return Resource.create(
        {"service.name": job, "service.instance.id": f"{job}-1", "org": "acme", "space": "prod"}
    )


def _record(endpoint: str, headers: dict[str, str], job: str) -> None:
    """Record a fixed set of measurements and export them once (cumulative, the SDK's default)."""
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=endpoint, headers=headers, timeout=10), export_interval_millis=3_600_000
    )
    provider = MeterProvider(resource=_resource(job), metric_readers=[reader])
    meter = provider.get_meter("paramedic.tests")
    orders = meter.create_counter("shop.orders", unit="{order}")
    orders.add(5, {"region": "eu"})
    orders.add(7, {"region": "eu"})
    orders.add(1, {"region": "us"})
    duration = meter.create_histogram(
        "http.server.request.duration", unit="s", explicit_bucket_boundaries_advisory=[0.1, 0.5, 1.0]
    )
    for seconds in (0.02, 0.3, 0.3, 2.0):
        duration.record(seconds, {"http.request.method": "GET"})
    depth = meter.create_up_down_counter("queue.depth")
    depth.add(10)
    depth.add(-3)

    def cpu(_: CallbackOptions) -> list[Observation]:
        return [Observation(0.25)]

    meter.create_observable_gauge("cpu.utilization", callbacks=[cpu], unit="1")
    assert provider.force_flush(10_000)
    provider.shutdown()


def _expect(paramedic: LiveParamedic, job: str) -> None:
    sel = f'job="{job}",org="acme",space="prod"'

    def values(expr: str, key: str = "") -> dict[str, float]:
        return {r["metric"].get(key, ""): float(r["value"][1]) for r in paramedic.query(expr)}

    def arrived() -> bool:
        return bool(paramedic.query(f"cpu_utilization_ratio{{{sel}}}")) and bool(
            paramedic.query(f"shop_orders_total{{{sel}}}")
        )

    wait_until(arrived, 30, f"{job}'s metrics in Paramedic", 0.25)
    assert values(f"shop_orders_total{{{sel}}}", "region") == {"eu": 12.0, "us": 1.0}
    buckets = values(f'http_server_request_duration_seconds_bucket{{{sel},http_request_method="GET"}}', "le")
    assert buckets == {"0.1": 1.0, "0.5": 3.0, "1": 3.0, "+Inf": 4.0}
    assert values(f"http_server_request_duration_seconds_count{{{sel}}}") == {"": 4.0}
    assert values(f"http_server_request_duration_seconds_sum{{{sel}}}") == {"": pytest.approx(2.62)}
    assert values(f"queue_depth{{{sel}}}") == {"": 7.0}
    assert values(f"cpu_utilization_ratio{{{sel}}}") == {"": 0.25}
    assert values(f'target_info{{job="{job}"}}', "instance") == {f"{job}-1": 1.0}


def _log(endpoint: str, headers: dict[str, str], job: str, marker: str) -> None:
    provider = LoggerProvider(resource=_resource(job))
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, headers=headers))
    )
    logger = logging.getLogger(f"paramedic.tests.{job}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    logger.addHandler(handler)
    try:
        logger.error("card declined for %s", marker, extra={"order.id": "A-17"})
        logger.info("retrying %s", marker)
        assert provider.force_flush(10_000)
    finally:
        logger.removeHandler(handler)
        provider.shutdown()


def _expect_logs(paramedic: LiveParamedic, job: str, marker: str) -> None:
    wait_until(lambda: len(paramedic.logs(marker)) == 2, 30, f"{job}'s two log lines searchable", 0.25)
    by_level = {h["labels"]["level"]: h for h in paramedic.logs(marker)}
    assert sorted(by_level) == ["error", "info"]
    err = by_level["error"]
    assert err["message"] == f"card declined for {marker}"
    assert {k: err["labels"].get(k) for k in ("app", "org", "space", "instance")} == {
        "app": job, "org": "acme", "space": "prod", "instance": f"{job}-1",
    }  # fmt: skip
    assert err["fields"]["attr.order.id"] == "A-17"
    assert err["fields"]["severity_text"] == "ERROR"


def test_the_python_sdk_exports_metrics_and_logs_into_paramedic(paramedic: LiveParamedic) -> None:
    headers = {"Authorization": f"Bearer {paramedic.writer}"}
    _record(f"{paramedic.url}/api/v1/otlp/v1/metrics", headers, "sdk-direct")
    _expect(paramedic, "sdk-direct")
    _log(f"{paramedic.url}/api/v1/otlp/v1/logs", headers, "sdk-direct", "sdklogmarker1")
    _expect_logs(paramedic, "sdk-direct", "sdklogmarker1")


def test_the_sdk_is_refused_without_a_writer_token(paramedic: LiveParamedic) -> None:
    registry = paramedic.paramedic.registry

    def forbidden() -> float:
        return registry.get_sample_value("paramedic_auth_decisions_total", {"result": "forbidden"}) or 0.0

    before = forbidden()
    reader = {"Authorization": f"Bearer {paramedic.reader}"}
    _record(f"{paramedic.url}/api/v1/otlp/v1/metrics", reader, "sdk-refused")  # synchronous: answered already
    assert forbidden() > before  # a viewer token: 403 (the SDK does not retry it)
    assert paramedic.query('{job="sdk-refused"}') == []


COLLECTOR = """receivers:
  otlp/direct: {{protocols: {{http: {{endpoint: "127.0.0.1:{direct}"}}}}}}
  otlp/prw: {{protocols: {{http: {{endpoint: "127.0.0.1:{prw}"}}}}}}
  otlp/prw2: {{protocols: {{http: {{endpoint: "127.0.0.1:{prw2}"}}}}}}
exporters:
  otlphttp:
    endpoint: {url}/api/v1/otlp
    headers: {{Authorization: "Bearer {token}"}}
  prometheusremotewrite:
    endpoint: {url}/api/v1/write
    headers: {{Authorization: "Bearer {token}"}}
    resource_to_telemetry_conversion: {{enabled: true}}
  prometheusremotewrite/v2:
    endpoint: {url}/api/v1/write
    headers: {{Authorization: "Bearer {token}"}}
    resource_to_telemetry_conversion: {{enabled: true}}
    protobuf_message: io.prometheus.write.v2.Request
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    metrics/direct: {{receivers: [otlp/direct], exporters: [otlphttp]}}
    metrics/prw: {{receivers: [otlp/prw], exporters: [prometheusremotewrite]}}
    metrics/prw2: {{receivers: [otlp/prw2], exporters: [prometheusremotewrite/v2]}}
    logs: {{receivers: [otlp/direct], exporters: [otlphttp]}}
"""


@pytest.mark.otelcol
def test_a_real_collector_forwards_otlp_and_remote_write_into_paramedic(
    paramedic: LiveParamedic, tmp_path: Path
) -> None:
    direct, prw, prw2 = free_port(), free_port(), free_port()
    (tmp_path / "otelcol.yaml").write_text(
        COLLECTOR.format(direct=direct, prw=prw, prw2=prw2, url=paramedic.url, token=paramedic.writer)
    )
    col = ManagedProcess(
        "otelcol",
        [
            str(binary()),
            f"--config={tmp_path / 'otelcol.yaml'}",
            "--feature-gates=exporter.prometheusremotewritexporter.enableSendingRW2",
        ],
        tmp_path / "otelcol.log",
    )
    registry = paramedic.paramedic.registry

    def v2_requests() -> float:
        return (
            registry.get_sample_value("paramedic_push_remote_write_requests_total", {"version": "2.0"}) or 0.0
        )

    def listening() -> bool:
        if col.popen.poll() is not None:
            raise RuntimeError(f"otelcol exited with {col.popen.returncode}:\n{col.log_tail()}")
        try:
            for port in (direct, prw, prw2):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    try:
        wait_until(listening, 30, "the collector's OTLP receivers", 0.1)
        _record(f"http://127.0.0.1:{direct}/v1/metrics", {}, "via-otlphttp")
        _record(f"http://127.0.0.1:{prw}/v1/metrics", {}, "via-prw")
        v2_before = v2_requests()
        _record(f"http://127.0.0.1:{prw2}/v1/metrics", {}, "via-prw2")
        _expect(paramedic, "via-otlphttp")
        _expect(paramedic, "via-prw")
        _expect(paramedic, "via-prw2")
        assert v2_requests() > v2_before  # the last one came as remote write 2.0
        assert "header is missing from the response" not in col.log_path.read_text()
        _log(f"http://127.0.0.1:{direct}/v1/logs", {}, "via-otlphttp", "collectorlogmarker2")
        _expect_logs(paramedic, "via-otlphttp", "collectorlogmarker2")
    except Exception as exc:
        raise AssertionError(f"{exc}\n{col.log_tail()}") from exc
    finally:
        col.stop()


@pytest.mark.prometheus3
def test_otlp_names_labels_and_values_match_prometheus_3(paramedic: LiveParamedic, tmp_path: Path) -> None:
    """The same SDK export into Prometheus 3's own OTLP receiver and into Paramedic: the same series (names,
    labels, ``target_info``) with the same values."""
    port, job = free_port(), "sdk-differential"
    (tmp_path / "prometheus.yml").write_text(
        "otlp: {promote_resource_attributes: [org, space]}\n"  # Paramedic always promotes its tenancy ones
    )
    prom = ManagedProcess(
        "prometheus3",
        [
            str(prometheus3.binary()),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-otlp-receiver",
        ],
        tmp_path / "prometheus.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/-/ready", 30, prom)
        _record(f"{base}/api/v1/otlp/v1/metrics", {}, job)
        writer = {"Authorization": f"Bearer {paramedic.writer}"}
        _record(f"{paramedic.url}/api/v1/otlp/v1/metrics", writer, job)
        expr = f'{{job="{job}"}}'

        def series(result: list[dict[str, Any]]) -> dict[frozenset[tuple[str, str]], float]:
            return {frozenset(r["metric"].items()): float(r["value"][1]) for r in result}

        def prom_series() -> dict[frozenset[tuple[str, str]], float]:
            r = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10)
            return series(r.json()["data"]["result"])

        wait_until(lambda: len(prom_series()) >= 10, 30, "the export in Prometheus 3", 0.25)
        wait_until(lambda: len(series(paramedic.query(expr))) >= 10, 30, "the export in Paramedic", 0.25)
        truth, got = prom_series(), series(paramedic.query(expr))
        assert {dict(k)["__name__"] for k in truth} == {dict(k)["__name__"] for k in got}
        only_prom, only_here = truth.keys() - got.keys(), got.keys() - truth.keys()
        assert got == truth, f"only in Prometheus 3: {only_prom}; only in Paramedic: {only_here}"
    finally:
        prom.stop()


def _tricky_export(job: str, now_ns: int) -> bytes:
    """OTLP JSON with the naming corner cases: suffixes already present, separators, leading digits, units in
    braces, per-units, percent, attribute keys that sanitise alike or start with a digit or "_", a summary."""

    def attrs(**kv: str) -> list[dict[str, Any]]:
        return [{"key": k.replace("__", "."), "value": {"stringValue": v}} for k, v in kv.items()]

    def gauge(name: str, unit: str, value: float, **kv: str) -> dict[str, Any]:
        point = {"timeUnixNano": str(now_ns), "asDouble": value, "attributes": attrs(**kv)}
        return {"name": name, "unit": unit, "gauge": {"dataPoints": [point]}}

    def counter(name: str, unit: str, value: int) -> dict[str, Any]:
        point = {"timeUnixNano": str(now_ns), "asInt": str(value)}
        return {
            "name": name,
            "unit": unit,
            "sum": {"aggregationTemporality": 2, "isMonotonic": True, "dataPoints": [point]},
        }

    summary = {
        "name": "rpc.latency",
        "unit": "ms",
        "summary": {
            "dataPoints": [
                {
                    "timeUnixNano": str(now_ns),
                    "count": "4",
                    "sum": 10.5,
                    "quantileValues": [{"quantile": 0.5, "value": 2.0}, {"quantile": 0.99, "value": 7.25}],
                }
            ]
        },
    }
    metrics = [
        counter("foo.total", "", 3),
        counter("total.requests", "{request}", 4),
        counter("net.io", "By", 5),
        gauge("load.ratio", "1", 0.5),
        gauge("disk.used", "%", 42.0),
        gauge("throughput", "By/s", 1e6),
        gauge("speed", "m/h", 3.5),
        gauge("0starts", "", 1.0),
        gauge("a__b...c", "", 2.0),
        gauge("labels", "", 3.0, a__b="dot", **{"a-b": "dash", "1st": "one", "_private": "p"}),
        summary,
    ]
    resource = attrs(
        service__name=job, service__instance__id="i-9", org="acme", space="prod", host__name="h1"
    )
    body = {
        "resourceMetrics": [{"resource": {"attributes": resource}, "scopeMetrics": [{"metrics": metrics}]}]
    }
    return json.dumps(body).encode()


@pytest.mark.prometheus3
def test_otlp_naming_corner_cases_match_prometheus_3(paramedic: LiveParamedic, tmp_path: Path) -> None:
    """The same hand-written OTLP JSON into Prometheus 3 and into Paramedic: the same series and values."""
    port, job = free_port(), "otlp-corners"
    (tmp_path / "prometheus.yml").write_text("otlp: {promote_resource_attributes: [org, space]}\n")
    prom = ManagedProcess(
        "prometheus3",
        [
            str(prometheus3.binary()),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-otlp-receiver",
        ],
        tmp_path / "prometheus.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/-/ready", 30, prom)
        body = _tricky_export(job, time.time_ns())
        json_headers = {"Content-Type": "application/json"}
        r = httpx.post(f"{base}/api/v1/otlp/v1/metrics", content=body, headers=json_headers, timeout=10)
        assert r.status_code == 200, r.text
        writer = {**json_headers, "Authorization": f"Bearer {paramedic.writer}"}
        r = httpx.post(f"{paramedic.url}/api/v1/otlp/v1/metrics", content=body, headers=writer, timeout=10)
        assert r.status_code == 200, r.text
        expr = f'{{job="{job}"}}'

        def series(result: list[dict[str, Any]]) -> dict[frozenset[tuple[str, str]], float]:
            return {frozenset(x["metric"].items()): float(x["value"][1]) for x in result}

        def prom_series() -> dict[frozenset[tuple[str, str]], float]:
            return series(
                httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10).json()["data"]["result"]
            )

        wait_until(lambda: len(prom_series()) >= 15, 30, "the export in Prometheus 3", 0.25)
        truth, got = prom_series(), series(paramedic.query(expr))
        only_prom = sorted(str(dict(k)) for k in truth.keys() - got.keys())
        only_here = sorted(str(dict(k)) for k in got.keys() - truth.keys())
        assert got == truth, f"only in Prometheus 3: {only_prom}; only in Paramedic: {only_here}"
    finally:
        prom.stop()
