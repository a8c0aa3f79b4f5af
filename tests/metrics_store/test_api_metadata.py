"""The metadata registry (bounds, ageing, thread safety of the shape) and /api/v1/metadata over it."""

from __future__ import annotations

import threading

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from collector.exposition import FamilyMeta, parse
from collector.metadata import MetadataRegistry, MetricMetadata, metadata_router
from platforms.tenancy import Grant, Scope


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _registry(clock: _Clock | None = None, **kw: int) -> MetadataRegistry:
    return MetadataRegistry(clock=clock or _Clock(), registry=CollectorRegistry(), **kw)


def test_types_help_unit_from_both_formats() -> None:
    reg = _registry()
    reg.observe(
        parse(
            b"# HELP a_total A.\n# TYPE a_total counter\na_total 1\nb 2\n"
            b"# TYPE u untyped\n# HELP u U.\nu 3\n",
            "text/plain",
        ).families
    )
    om = b"# TYPE d_seconds gauge\n# UNIT d_seconds seconds\n# HELP d_seconds D.\nd_seconds 1\n# EOF\n"
    reg.observe(parse(om, "application/openmetrics-text; version=1.0.0").families)
    assert reg.snapshot() == {
        "d_seconds": [MetricMetadata("gauge", "D.", "seconds")],
        "u": [MetricMetadata("unknown", "U.", "")],
        "a_total": [MetricMetadata("counter", "A.", "")],
    }  # b has no TYPE/HELP line: no metadata, as in Prometheus


def test_distinct_variants_limit_and_metric_filter() -> None:
    reg = _registry()
    for help_text in ("one", "two", "one"):
        reg.observe({"m": FamilyMeta("m", "gauge", help_text), "n": FamilyMeta("n", "counter", "x")})
    assert reg.snapshot("m") == {
        "m": [MetricMetadata("gauge", "one", ""), MetricMetadata("gauge", "two", "")]
    }
    assert reg.snapshot("absent") == {}
    assert len(reg.snapshot(limit=1)) == 1
    assert reg.snapshot(limit=0) == {}


def test_bounded_and_aged() -> None:
    clock = _Clock()
    reg = _registry(clock, max_metrics=2, max_variants=2, max_age_s=60)
    for name in ("a", "b", "c"):
        reg.observe({name: FamilyMeta(name, "gauge", "h")})
    assert set(reg.snapshot()) == {"b", "c"}  # least recently seen evicted
    for i in range(3):
        clock.now += 1
        reg.observe({"c": FamilyMeta("c", "gauge", f"h{i}")})
    assert [m.help for m in reg.snapshot("c")["c"]] == ["h1", "h2"]
    clock.now += 61.5
    reg.observe({"c": FamilyMeta("c", "gauge", "h2")})
    assert reg.snapshot() == {"c": [MetricMetadata("gauge", "h2", "")]}  # the rest aged out


def test_concurrent_observe_and_snapshot() -> None:
    reg = _registry(max_metrics=100)
    fams = {f"m{i}": FamilyMeta(f"m{i}", "gauge", "h") for i in range(300)}

    def work() -> None:
        for _ in range(20):
            reg.observe(fams)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        assert len(reg.snapshot()) <= 100
    assert len(reg.snapshot()) == 100


def test_metadata_endpoint_shape_and_errors() -> None:
    reg = _registry()
    reg.observe({"m": FamilyMeta("m", "histogram", "Latency.", "seconds")})
    app = FastAPI()
    app.include_router(metadata_router(reg))
    client = TestClient(app)
    assert client.get("/api/v1/metadata").json() == {
        "status": "success",
        "data": {"m": [{"type": "histogram", "help": "Latency.", "unit": "seconds"}]},
    }
    assert client.get("/api/v1/metadata", params={"metric": "x"}).json()["data"] == {}
    resp = client.get("/api/v1/metadata", params={"limit": "ten"})
    assert resp.status_code == 400
    assert resp.json() == {"status": "error", "errorType": "bad_data", "error": "limit must be a number"}


def test_each_variant_remembers_which_tenants_targets_exposed_it(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    reg = _registry(clock, max_variants=2, max_age_s=60)
    acme, globex = Scope.of([Grant("acme", "prod", "viewer")]), Scope.of([Grant("globex", None, "viewer")])
    reg.observe({"m": FamilyMeta("m", "gauge", "shared")}, ("acme", "prod"))
    reg.observe({"m": FamilyMeta("m", "gauge", "shared")}, ("globex", "prod"))
    reg.observe({"m": FamilyMeta("m", "gauge", "globex's own")}, ("globex", "prod"))
    reg.observe({"r": FamilyMeta("r", "gauge", "router")})  # a foundation target: shown to every tenant
    assert [m.help for m in reg.snapshot("m", scope=acme)["m"]] == ["shared"]
    assert [m.help for m in reg.snapshot("m", scope=globex)["m"]] == ["shared", "globex's own"]
    assert reg.snapshot("r", scope=acme) == {"r": [MetricMetadata("gauge", "router", "")]}
    # freshness is per tenant: acme's target stopped exposing "shared", globex's did not
    clock.now += 61
    reg.observe({"m": FamilyMeta("m", "gauge", "shared")}, ("globex", "prod"))
    assert reg.snapshot("m", scope=acme) == {}
    assert [m.help for m in reg.snapshot("m", scope=globex)["m"]] == ["shared"]
    # the tenants remembered per variant are bounded, the least recently seen forgotten first
    monkeypatch.setattr("collector.metadata.MAX_TENANTS_PER_VARIANT", 2)
    reg = _registry(clock)
    for i, space in enumerate(("a", "b", "c")):
        clock.now += 1 + i
        reg.observe({"m": FamilyMeta("m", "gauge", "shared")}, ("initech", space))
    seen = {s: reg.snapshot("m", scope=Scope.of([Grant("initech", s, "viewer")])) for s in "abc"}
    assert [s for s, found in seen.items() if found] == ["b", "c"]


def test_a_variant_that_three_orgs_expose_is_everyones() -> None:
    """A client library's HELP, which every app exposes alike, is no one org's secret: one entry, not one per
    space, and shown to every tenant (that has the family's series)."""
    reg = _registry()
    outsider = Scope.of([Grant("umbrella", None, "viewer")])
    for i, org in enumerate(("acme", "acme", "globex")):
        reg.observe({"m": FamilyMeta("m", "gauge", "CPU seconds.")}, (org, f"s{i}"))
    assert reg.snapshot("m", scope=outsider) == {}
    reg.observe({"m": FamilyMeta("m", "gauge", "CPU seconds.")}, ("initech", "s"))
    assert reg.snapshot("m", scope=outsider) == {"m": [MetricMetadata("gauge", "CPU seconds.", "")]}
