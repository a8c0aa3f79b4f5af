"""The push decoders without HTTP: OTLP names as Prometheus 3 makes them (cases from the examples of
github.com/prometheus/otlptranslator's documentation and tests), and hostile bytes (hypothesis) that must
only ever end in a :class:`PushRefusedError`, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from collector.config import PushConfig
from collector.push.errors import PushRefusedError
from collector.push.otlp_body import parse_request
from collector.push.otlp_metrics import decode_otlp_metrics
from collector.push.otlp_names import MetricKind, label_name, metric_name
from collector.push.remote_write import decode_remote_write
from log_pipeline.otlp import otlp_lines, otlp_record
from metrics_store.model import is_stale_nan
from tests.collector.push.rw import V1_HEADERS, V2_HEADERS, snappy, v1

CFG = PushConfig(max_decompressed_bytes=1 << 20)


@pytest.mark.parametrize(
    ("name", "unit", "kind", "expected"),
    [
        ("http.server.duration", "s", "histogram", "http_server_duration_seconds"),
        ("requests.count", "1", "counter", "requests_count_total"),
        ("memory.usage", "By", "gauge", "memory_usage_bytes"),
        ("system.cpu.utilization", "1", "gauge", "system_cpu_utilization_ratio"),
        ("system.network.io", "By/s", "gauge", "system_network_io_bytes_per_second"),
        ("foo.total", "", "counter", "foo_total"),  # "total" moves to the end, once
        ("total.foo", "", "counter", "foo_total"),
        ("foo.ratio", "1", "gauge", "foo_ratio"),
        ("queue.size", "{items}", "updowncounter", "queue_size"),  # a unit in braces adds nothing
        ("latency_seconds", "s", "histogram", "latency_seconds"),  # the unit token is not repeated
        ("foo__bar...baz", "", "gauge", "foo_bar_baz"),  # runs of separators collapse
        ("0starts", "", "gauge", "_0starts"),
        ("temp", "Cel", "gauge", "temp_celsius"),
        ("speed", "m/h", "gauge", "speed_meters_per_hour"),
        ("weird", "km/fortnight", "gauge", "weird_km_per_fortnight"),
        ("...", "", "gauge", ""),  # nothing valid left: not stored
    ],
)
def test_metric_names_as_prometheus_3(name: str, unit: str, kind: MetricKind, expected: str) -> None:
    assert metric_name(name, unit, kind) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("http.method", "http_method"),
        ("service.instance.id", "service_instance_id"),
        ("1st", "key_1st"),
        ("_private", "key_private"),
        ("__reserved", "__reserved"),
        ("ünïcode", "key_n_code"),  # each rune outside [a-zA-Z0-9_] is one "_", then "key"
    ],
)
def test_label_names_as_prometheus_3(key: str, expected: str) -> None:
    assert label_name(key) == expected


def test_two_attributes_that_sanitise_alike_are_joined() -> None:
    req = ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add(name="g")
    dp = metric.gauge.data_points.add(time_unix_nano=1_000_000_000, as_double=1.0)
    for key, value in (("a.b", "dot"), ("a-b", "dash")):
        dp.attributes.add(key=key).value.string_value = value
    [series] = decode_otlp_metrics(req, CFG).series
    assert series.labels["a_b"] == "dash;dot"  # in key order: "a-b" < "a.b"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from([V1_HEADERS, V2_HEADERS]), st.booleans())
def test_remote_write_bytes_never_break_the_decoder(
    data: bytes, headers: dict[str, str], compress: bool
) -> None:
    body = snappy(data) if compress else data
    try:
        decode_remote_write(body, headers["Content-Type"], "snappy", CFG)
    except PushRefusedError as exc:
        assert 400 <= exc.status < 500


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from(["application/x-protobuf", "application/json"]))
def test_otlp_bytes_never_break_the_decoders(data: bytes, content_type: str) -> None:
    try:
        req, _ = parse_request(
            ExportMetricsServiceRequest, data, content_type, "", CFG.max_decompressed_bytes
        )
        decode_otlp_metrics(req, CFG)
    except PushRefusedError as exc:
        assert 400 <= exc.status < 500
    try:
        logs, _ = parse_request(ExportLogsServiceRequest, data, content_type, "", CFG.max_decompressed_bytes)
        otlp_lines(logs, 0, 1024)
    except PushRefusedError as exc:
        assert 400 <= exc.status < 500


def test_a_valid_body_mutated_byte_by_byte_is_refused_or_decoded() -> None:
    good = v1([({"__name__": "m", "a": "b"}, [(1000, 1.0), (2000, 2.0)])])
    for i in range(len(good)):
        for flip in (0x00, 0xFF, good[i] ^ 0x80):
            mutated = good[:i] + bytes([flip]) + good[i + 1 :]
            try:
                decode_remote_write(snappy(mutated), V1_HEADERS["Content-Type"], "snappy", CFG)
            except PushRefusedError as exc:
                assert exc.status == 400


def test_summaries_stale_points_and_what_is_not_stored() -> None:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.add(key="service.name").value.string_value = "svc"
    metrics = rm.scope_metrics.add().metrics
    summary = metrics.add(name="rpc.latency", unit="ms").summary.data_points.add(
        time_unix_nano=2_000_000_000, count=4, sum=10.0
    )
    summary.quantile_values.add(quantile=0.5, value=2.0)
    summary.quantile_values.add(quantile=0.99, value=5.5)
    metrics.add(name="gone").gauge.data_points.add(time_unix_nano=3_000_000_000, as_double=1.0, flags=1)
    metrics.add(name="exp").exponential_histogram.data_points.add(time_unix_nano=1, count=1)
    decoded = decode_otlp_metrics(req, CFG)
    got = {
        (s.labels["__name__"], s.labels.get("quantile", "")): (s.timestamps_ms, s.values)
        for s in decoded.series
    }
    assert got[("rpc_latency_milliseconds", "0.5")] == ([2000], [2.0])
    assert got[("rpc_latency_milliseconds", "0.99")] == ([2000], [5.5])
    assert got[("rpc_latency_milliseconds_sum", "")] == ([2000], [10.0])
    assert got[("rpc_latency_milliseconds_count", "")] == ([2000], [4.0])
    [stale] = got[("gone", "")][1]
    assert is_stale_nan(stale)  # "no recorded value": a staleness marker, as in Prometheus
    assert decoded.skipped == {"exponential_histogram": 1}
    assert ("target_info", "") not in got  # service.name only: nothing else to tell


def test_an_otlp_line_survives_the_spool_round_trip() -> None:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    for key, value in (("cloudfoundry.org.name", "acme"), ("cloudfoundry.space.name", "dev"), ("app", "web")):
        rl.resource.attributes.add(key=key).value.string_value = value
    rec = rl.scope_logs.add().log_records.add(severity_text="warn", observed_time_unix_nano=5)
    rec.body.string_value = "é" * 10  # 20 bytes: cut at a character boundary
    rec.attributes.add(key="n").value.double_value = 1.5
    [line] = otlp_lines(req, received_ns=9, max_message_bytes=7)
    record = otlp_record(line.raw(9, "127.0.0.1:1"), "0000000000000001")
    assert record.message == "ééé" and record.fields["truncated"] == 1
    assert record.timestamp_ns == 5 and record.fields["attr.n"] == 1.5
    assert {k: record.labels[k] for k in ("org", "space", "app", "level")} == {
        "org": "acme", "space": "dev", "app": "web", "level": "warning",
    }  # fmt: skip
