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
from log_pipeline.otlp import otlp_lines
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
