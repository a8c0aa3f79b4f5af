"""``POST /api/v1/write`` on the assembled server: remote write 1.0 and 2.0 stored with their values, who may
write, tenancy tried as an attacker (a space's writer aiming at another space: 403 and nothing stored), and
bodies a stranger could send (each a clear 4xx, the server still serving)."""

from __future__ import annotations

import time

import pytest

from tests.collector.push.conftest import PushServer
from tests.collector.push.rw import V1_HEADERS, V2_HEADERS, snappy, v1, v2

NOW_MS = int(time.time() * 1000) // 1000 * 1000


def test_v1_samples_are_stored_with_their_values(push_server: PushServer) -> None:
    samples = [(NOW_MS - 2000, 1.5), (NOW_MS - 1000, -2.25), (NOW_MS, 1e300)]
    body = snappy(v1([({"__name__": "rw_v1_gauge", "job": "node", "instance": "a:1"}, samples)]))
    r = push_server.post("writer", "/api/v1/write", body, **V1_HEADERS)
    assert r.status_code == 204, r.text
    [s] = push_server.series("rw_v1_gauge")
    assert dict(s.labels) == {"__name__": "rw_v1_gauge", "job": "node", "instance": "a:1"}
    assert list(zip(s.timestamps_ms.tolist(), s.values.tolist(), strict=True)) == samples
    assert "X-Prometheus-Remote-Write-Samples-Written" not in r.headers  # 1.0 has no such headers


def test_v2_symbols_resolve_and_the_written_headers_count(push_server: PushServer) -> None:
    series = [
        ({"__name__": "rw_v2_total", "job": "api", "code": "200"}, [(NOW_MS - 1000, 10.0), (NOW_MS, 12.0)]),
        ({"__name__": "rw_v2_total", "job": "api", "code": "500"}, [(NOW_MS, 1.0)]),
    ]
    r = push_server.post("writer", "/api/v1/write", snappy(v2(series)), **V2_HEADERS)
    assert r.status_code == 204, r.text
    assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "3"
    assert r.headers["X-Prometheus-Remote-Write-Histograms-Written"] == "0"
    got = {dict(s.labels)["code"]: s.values.tolist() for s in push_server.series("rw_v2_total")}
    assert got == {"200": [10.0, 12.0], "500": [1.0]}


def test_pushed_samples_count_in_the_scrape_self_metrics(push_server: PushServer) -> None:
    before = push_server.metric("paramedic_scrape_samples_appended_total", job="remote_write")
    body = snappy(v1([({"__name__": "rw_counted"}, [(NOW_MS, 1.0), (NOW_MS + 1000, 2.0)])]))
    assert push_server.post("writer", "/api/v1/write", body, **V1_HEADERS).status_code == 204
    after = push_server.metric("paramedic_scrape_samples_appended_total", job="remote_write")
    assert after - before == 2
    assert push_server.metric("paramedic_push_requests_total", job="remote_write", code="204") >= 1


def test_who_may_write(push_server: PushServer) -> None:
    body = snappy(v1([({"__name__": "rw_roles", "org": "acme", "space": "prod"}, [(NOW_MS, 1.0)])]))
    assert push_server.post(None, "/api/v1/write", body, **V1_HEADERS).status_code == 401
    for who in ("foundation", "acme-prod-viewer", "alerts"):
        assert push_server.post(who, "/api/v1/write", body, **V1_HEADERS).status_code == 403, who
    assert push_server.series("rw_roles") == []
    assert push_server.post("acme-prod-op", "/api/v1/write", body, **V1_HEADERS).status_code == 204
    assert len(push_server.series("rw_roles")) == 1


@pytest.mark.parametrize(
    "foreign",
    [
        {"org": "acme", "space": "dev"},
        {"org": "globex", "space": "prod"},
        {},  # foundation data: no org at all
        {"org": "acme"},  # the org without the space
        {"org": "acme", "space": "prod2"},
    ],
    ids=["sibling-space", "other-org", "foundation", "org-only", "prefix-space"],
)
def test_a_space_writer_cannot_write_outside_its_space(
    push_server: PushServer, foreign: dict[str, str]
) -> None:
    name = f"rw_attack_{len(foreign)}_{'_'.join(foreign.values()) or 'none'}"
    own = ({"__name__": name, "org": "acme", "space": "prod"}, [(NOW_MS, 1.0)])
    other = ({"__name__": name, **foreign, "victim": "1"}, [(NOW_MS, 666.0)])
    for headers, encode in ((V1_HEADERS, v1), (V2_HEADERS, v2)):
        r = push_server.post("acme-prod-op", "/api/v1/write", snappy(encode([own, other])), **headers)
        assert r.status_code == 403, r.text
        assert "nothing was stored" in r.text
    assert push_server.series(name) == []  # not even the request's own-space series


def test_a_space_writer_cannot_borrow_a_foundation_scrape_job(push_server: PushServer) -> None:
    # up{job="cells"} in its own space would still be read by foundation rules that select job="cells"
    spoof = (
        {"__name__": "up", "job": "cells", "instance": "cell-1", "org": "acme", "space": "prod"},
        [(NOW_MS, 0.0)],
    )
    for headers, encode in ((V1_HEADERS, v1), (V2_HEADERS, v2)):
        r = push_server.post("acme-prod-op", "/api/v1/write", snappy(encode([spoof])), **headers)
        assert r.status_code == 403, r.text
        assert "job='cells'" in r.text and "nothing was stored" in r.text
    assert push_server.series("up", instance="cell-1") == []
    # the same series under its own job name is the space's to write; a foundation writer may use the job
    own = ({**spoof[0], "job": "acme-app"}, spoof[1])
    assert (
        push_server.post("acme-prod-op", "/api/v1/write", snappy(v1([own])), **V1_HEADERS).status_code == 204
    )
    assert push_server.post("writer", "/api/v1/write", snappy(v1([spoof])), **V1_HEADERS).status_code == 204


def test_a_foundation_writer_writes_any_tenant(push_server: PushServer) -> None:
    series = [
        ({"__name__": "rw_any", "org": o, "space": "prod"}, [(NOW_MS, 1.0)]) for o in ("acme", "globex")
    ]
    assert push_server.post("writer", "/api/v1/write", snappy(v1(series)), **V1_HEADERS).status_code == 204
    assert len(push_server.series("rw_any")) == 2


def _bomb() -> bytes:
    # a snappy block announcing 2**40 bytes: refused from its header, before anything is inflated
    return bytes([0x80, 0x80, 0x80, 0x80, 0x80, 0x20]) + b"\x00" * 16


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"not snappy at all", V1_HEADERS, 400),
        (snappy(b"\xff\xff\xff\xff garbage protobuf"), V1_HEADERS, 400),
        (_bomb(), V1_HEADERS, 413),
        (snappy(b"\x00" * 2_000_000), V1_HEADERS, 413),  # over max_decompressed_bytes (1 MiB here)
        (snappy(v1([({"job": "x"}, [(NOW_MS, 1.0)])])), V1_HEADERS, 400),  # no metric name
        (snappy(v1([({"__name__": "x", "l": "v" * 300}, [(NOW_MS, 1.0)])])), V1_HEADERS, 400),  # label value
        (snappy(v1([({"__name__": f"s{i}"}, [(NOW_MS, 1.0)]) for i in range(51)])), V1_HEADERS, 413),
        (snappy(v1([({"__name__": "x"}, [(NOW_MS, 1.0)])])), {**V1_HEADERS, "Content-Encoding": "gzip"}, 415),
        (snappy(v1([({"__name__": "x"}, [(NOW_MS, 1.0)])])), {**V1_HEADERS, "Content-Type": "text/csv"}, 415),
        (
            snappy(v1([({"__name__": "x"}, [(NOW_MS, 1.0)])])),
            {**V1_HEADERS, "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v9.Request"},
            415,
        ),
        # v2: symbol references out of range; an odd number of labels_refs
        (snappy(b"\x22\x00" + b"\x2a\x04\x0a\x02\x07\x09"), V2_HEADERS, 400),
        (snappy(b"\x22\x00\x22\x01a" + b"\x2a\x03\x0a\x01\x01"), V2_HEADERS, 400),
    ],
    ids=[
        "not-snappy", "not-protobuf", "snappy-bomb-header", "decompressed-over-limit", "no-metric-name",
        "label-value-too-long", "too-many-series", "gzip", "text-plain", "unknown-proto",
        "v2-ref-out-of-range", "v2-odd-refs",
    ],
)  # fmt: skip
def test_bad_bodies_are_refused_clearly(
    push_server: PushServer, body: bytes, headers: dict[str, str], status: int
) -> None:
    before = push_server.metric("paramedic_push_requests_total", job="remote_write", code=str(status))
    r = push_server.post("writer", "/api/v1/write", body, **headers)
    assert r.status_code == status, r.text
    assert r.text.strip(), "a refusal says why"
    if headers is V2_HEADERS:  # 2.0: nothing written, and the answer says so
        assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "0"
    assert (
        push_server.metric("paramedic_push_requests_total", job="remote_write", code=str(status))
        == before + 1
    )
    ok = snappy(v1([({"__name__": "rw_still_serving"}, [(NOW_MS, 1.0)])]))
    assert push_server.post("writer", "/api/v1/write", ok, **V1_HEADERS).status_code == 204


def test_body_over_the_route_limit_is_refused_before_reading(push_server: PushServer) -> None:
    big = b"\x00" * (33 * 1024 * 1024)
    r = push_server.post("writer", "/api/v1/write", big, **V1_HEADERS)
    assert r.status_code == 413


def test_disabled_receivers_answer_404(push_server: PushServer) -> None:
    p = push_server.paramedic
    saved = p.config
    push = saved.collector.push.model_copy(update={"enabled": False})
    p.config = saved.model_copy(update={"collector": saved.collector.model_copy(update={"push": push})})
    try:
        body = snappy(v1([({"__name__": "rw_disabled"}, [(NOW_MS, 1.0)])]))
        assert push_server.post("writer", "/api/v1/write", body, **V1_HEADERS).status_code == 404
        assert push_server.series("rw_disabled") == []
    finally:
        p.config = saved
