"""``POST /api/v1/otlp/v1/metrics`` and ``/api/v1/otlp/v1/logs`` on the assembled server: OTLP requests
(built with the ``opentelemetry-proto`` messages, and as OTLP JSON written out by hand) stored under the names
Prometheus 3 gives them, logs found by search with their attributes, tenancy tried as an attacker."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from tests.collector.push.conftest import PushServer
from tests.support.servers import wait_until

NOW_NS = time.time_ns() // 1_000_000_000 * 1_000_000_000
NOW_MS = NOW_NS // 1_000_000
PB = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def _attrs(**kv: Any) -> list[dict[str, Any]]:
    out = []
    for k, v in kv.items():
        key = k.replace("__", ".")
        if isinstance(v, bool):
            out.append({"key": key, "value": {"boolValue": v}})
        elif isinstance(v, int):
            out.append({"key": key, "value": {"intValue": str(v)}})
        elif isinstance(v, float):
            out.append({"key": key, "value": {"doubleValue": v}})
        else:
            out.append({"key": key, "value": {"stringValue": v}})
    return out


def _metrics_json(resource: dict[str, Any], metrics: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceMetrics": [
            {
                "resource": {"attributes": _attrs(**resource)},
                "scopeMetrics": [{"scope": {"name": "test"}, "metrics": metrics}],
            }
        ]
    }


RESOURCE = {"service__name": "checkout", "service__namespace": "shop", "service__instance__id": "i-1",
            "org": "acme", "space": "prod", "host__name": "cell-3"}  # fmt: skip
METRICS = [
    {
        "name": "http.server.request.duration",
        "unit": "s",
        "histogram": {
            "aggregationTemporality": 2,
            "dataPoints": [
                {
                    "attributes": _attrs(http__request__method="GET"),
                    "timeUnixNano": str(NOW_NS),
                    "count": "6",
                    "sum": 1.25,
                    "explicitBounds": [0.1, 0.5, 1.0],
                    "bucketCounts": ["2", "3", "1", "0"],
                }
            ],
        },
    },
    {
        "name": "orders.placed",
        "unit": "{order}",
        "sum": {
            "aggregationTemporality": 2,
            "isMonotonic": True,
            "dataPoints": [{"timeUnixNano": str(NOW_NS), "asInt": "42"}],
        },
    },
    {
        "name": "queue.depth",
        "sum": {
            "aggregationTemporality": 2,
            "isMonotonic": False,
            "dataPoints": [{"timeUnixNano": str(NOW_NS), "asDouble": 7.5}],
        },
    },
    {
        "name": "cpu.utilization",
        "unit": "1",
        "gauge": {"dataPoints": [{"timeUnixNano": str(NOW_NS), "asDouble": 0.25}]},
    },
    {
        "name": "memory.usage",
        "unit": "By",
        "gauge": {"dataPoints": [{"timeUnixNano": str(NOW_NS), "asInt": "1048576"}]},
    },
    {
        "name": "requests.delta",
        "sum": {
            "aggregationTemporality": 1,
            "isMonotonic": True,
            "dataPoints": [
                {"timeUnixNano": str(NOW_NS), "asInt": "3"},
                {"timeUnixNano": str(NOW_NS), "asInt": "4"},
            ],
        },
    },
]


def _values(push_server: PushServer, name: str, **labels: str) -> dict[str, float]:
    out = {}
    for s in push_server.series(name, **labels):
        key = ",".join(f"{k}={v}" for k, v in s.labels if k in ("le", "code", "quantile"))
        out[key] = float(s.values[-1])
    return out


def _check_stored(push_server: PushServer, svc: str) -> None:
    base = {"job": f"shop/{svc}", "instance": "i-1", "org": "acme", "space": "prod"}
    buckets = _values(
        push_server, "http_server_request_duration_seconds_bucket", **base, http_request_method="GET"
    )
    assert buckets == {"le=0.1": 2, "le=0.5": 5, "le=1": 6, "le=+Inf": 6}
    assert _values(push_server, "http_server_request_duration_seconds_sum", **base) == {"": 1.25}
    assert _values(push_server, "http_server_request_duration_seconds_count", **base) == {"": 6}
    assert _values(push_server, "orders_placed_total", **base) == {"": 42}
    assert _values(push_server, "queue_depth", **base) == {"": 7.5}
    assert _values(push_server, "cpu_utilization_ratio", **base) == {"": 0.25}
    assert _values(push_server, "memory_usage_bytes", **base) == {"": 1048576}
    assert push_server.series("requests_delta_total", **base) == []  # delta: not stored
    [info] = push_server.series("target_info", **base)
    assert dict(info.labels)["host_name"] == "cell-3" and info.values.tolist() == [1.0]


def test_otlp_json_metrics_are_stored_as_prometheus_3_names_them(push_server: PushServer) -> None:
    body = json.dumps(_metrics_json({**RESOURCE, "service__name": "json"}, METRICS)).encode()
    r = push_server.post("writer", "/api/v1/otlp/v1/metrics", body, **JSON)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    resp = json_format.Parse(r.content, ExportMetricsServiceResponse())
    assert resp.partial_success.rejected_data_points == 2  # the two delta points
    assert "delta_temporality" in resp.partial_success.error_message
    _check_stored(push_server, "json")


def test_otlp_protobuf_gzip_metrics_are_stored(push_server: PushServer) -> None:
    req = json_format.ParseDict(
        _metrics_json({**RESOURCE, "service__name": "pb"}, METRICS), ExportMetricsServiceRequest()
    )
    body = gzip.compress(req.SerializeToString())
    r = push_server.post("writer", "/api/v1/otlp/v1/metrics", body, **PB, **{"Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-protobuf"
    assert ExportMetricsServiceResponse.FromString(r.content).partial_success.rejected_data_points == 2
    _check_stored(push_server, "pb")
    assert (
        push_server.metric("paramedic_scrape_samples_dropped_total", job="otlp", reason="delta_temporality")
        >= 2
    )


def test_a_space_writer_cannot_push_otlp_metrics_elsewhere(push_server: PushServer) -> None:
    gauge = [
        {"name": "otlp.attack", "gauge": {"dataPoints": [{"timeUnixNano": str(NOW_NS), "asDouble": 1.0}]}}
    ]
    own = _metrics_json({"service__name": "a", "org": "acme", "space": "prod"}, gauge)
    for foreign in (
        {"org": "acme", "space": "dev"},
        {"cloudfoundry__org__name": "globex", "cloudfoundry__space__name": "prod"},
        {},
    ):
        other = _metrics_json({"service__name": "b", **foreign}, gauge)
        body = json.dumps({"resourceMetrics": own["resourceMetrics"] + other["resourceMetrics"]}).encode()
        r = push_server.post("acme-prod-op", "/api/v1/otlp/v1/metrics", body, **JSON)
        assert r.status_code == 403, (foreign, r.text)
    assert push_server.series("otlp_attack") == []
    body = json.dumps(own).encode()
    assert push_server.post("acme-prod-op", "/api/v1/otlp/v1/metrics", body, **JSON).status_code == 200
    [s] = push_server.series("otlp_attack")
    assert dict(s.labels)["org"] == "acme"


def test_bad_otlp_bodies_are_refused(push_server: PushServer) -> None:
    cases = [
        (b"{not json", JSON, 400),
        (b"\xff\xff\xff", PB, 400),
        (b"x", {"Content-Type": "text/plain"}, 415),
        (gzip.compress(b"\x00" * 2_000_000), {**PB, "Content-Encoding": "gzip"}, 413),  # a gzip bomb
        (b"{}", {**JSON, "Content-Encoding": "br"}, 415),
    ]
    for body, headers, status in cases:
        for path in ("/api/v1/otlp/v1/metrics", "/api/v1/otlp/v1/logs"):
            r = push_server.post("writer", path, body, **headers)
            assert r.status_code == status, (path, headers, r.text)
    assert push_server.post("writer", "/api/v1/otlp/v1/metrics", b"{}", **JSON).status_code == 200


def _logs_json(resource: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": _attrs(**resource)},
                "scopeLogs": [{"scope": {"name": "checkout.logger"}, "logRecords": records}],
            }
        ]
    }


def test_otlp_logs_enter_the_pipeline_with_their_attributes(push_server: PushServer) -> None:
    record = {
        "timeUnixNano": str(NOW_NS),
        "severityNumber": 17,
        "severityText": "ERROR",
        "body": {"stringValue": "payment declined for order otlpjson4711"},
        "attributes": _attrs(order__id="4711", http__status_code=402),
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
    }
    resource = {"service__name": "checkout", "org": "acme", "space": "prod", "service__instance__id": "i-7"}
    body = json.dumps(_logs_json(resource, [record])).encode()
    r = push_server.post("writer", "/api/v1/otlp/v1/logs", body, **JSON)
    assert r.status_code == 200, r.text
    json_format.Parse(r.content, ExportLogsServiceResponse())
    wait_until(lambda: bool(push_server.logs("otlpjson4711")), 20, "the OTLP line searchable")
    [hit] = push_server.logs("otlpjson4711")
    assert hit["message"] == "payment declined for order otlpjson4711"
    labels, fields = hit["labels"], hit["fields"]
    assert {k: labels.get(k) for k in ("org", "space", "app", "level", "instance")} == {
        "org": "acme", "space": "prod", "app": "checkout", "level": "error", "instance": "i-7",
    }  # fmt: skip
    assert fields["attr.order.id"] == "4711" and fields["attr.http.status_code"] == 402
    assert fields["severity_text"] == "ERROR" and fields["scope"] == "checkout.logger"
    assert fields["resource.service.name"] == "checkout"


def test_otlp_protobuf_logs_and_a_space_writers_limits(push_server: PushServer) -> None:
    def req(org: str, space: str, text: str) -> bytes:
        rec = {"timeUnixNano": str(NOW_NS), "severityNumber": 9, "body": {"stringValue": text}}
        msg = json_format.ParseDict(
            _logs_json({"app": "web", "org": org, "space": space}, [rec]), ExportLogsServiceRequest()
        )
        return msg.SerializeToString()

    r = push_server.post("acme-prod-op", "/api/v1/otlp/v1/logs", req("acme", "dev", "otlpforeign0815"), **PB)
    assert r.status_code == 403, r.text
    r = push_server.post(
        "acme-prod-viewer", "/api/v1/otlp/v1/logs", req("acme", "prod", "otlpviewer0815"), **PB
    )
    assert r.status_code == 403, r.text
    r = push_server.post("acme-prod-op", "/api/v1/otlp/v1/logs", req("acme", "prod", "otlpown0815"), **PB)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-protobuf"
    wait_until(lambda: bool(push_server.logs("otlpown0815")), 20, "the own-space OTLP line searchable")
    assert push_server.logs("otlpown0815")[0]["labels"]["level"] == "info"
    assert push_server.logs("otlpforeign0815") == [] and push_server.logs("otlpviewer0815") == []
