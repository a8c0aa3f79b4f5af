"""The KPI catalogue, the generated cloudfoundry pack, and the Log Cache queries derived from the pack:
no KPI is left without input."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from alerting.rules import load_files
from metrics_store.memory import MemoryStore
from metrics_store.promql import metric_names
from platforms.cloudfoundry import CloudFoundryError, LogCacheSource
from platforms.cloudfoundry.kpi_pack import main as kpi_pack
from platforms.cloudfoundry.kpis import CatalogueError, load_catalogue
from platforms.cloudfoundry.log_cache_queries import derive_queries
from platforms.config import LogCacheConfig, LogCacheQuery
from tests.platforms.cloudfoundry.conftest import make_config
from tests.platforms.cloudfoundry.fake_cf import FakeCF

DERIVED = derive_queries(LogCacheConfig.model_validate({"url": "http://lc.example"}).pack_paths())
PACK = load_files(["cloudfoundry"])
RULES = [rule for group in PACK for rule in group.rules]


def _polled_plain(name: str) -> list[LogCacheQuery]:
    return [q for q in DERIVED if q.name is None and not q.per_app and metric_names(q.expr) == {name}]


def test_pack_and_its_tests_are_generated_from_the_catalogue() -> None:
    assert kpi_pack(["--check"]) == 0, "run: python -m platforms.cloudfoundry.kpi_pack"


def test_every_metric_the_pack_selects_is_polled() -> None:
    recorded = {rule.name for rule in RULES if rule.record}
    named = {q.name for q in DERIVED if q.name and not q.per_app}
    for rule in RULES:
        for name in metric_names(rule.expr) - recorded:
            if name in named:
                continue
            polled = _polled_plain(name)
            assert polled, f"{rule.name}: {name} is not polled"
            # the polled selector keeps the rule's source_id matcher
            wanted = set(re.findall(rf'{name}\{{(source_id=~?"[^"]+")', rule.expr))
            assert wanted <= {q.expr[len(name) + 1 : -1] for q in polled}, (rule.name, wanted)


def test_every_kpi_has_a_query_that_feeds_it() -> None:
    catalogue = load_catalogue()
    named = catalogue.named()
    for kpi in catalogue.kpis:
        if kpi.query is not None:
            assert kpi.query in {q.name for q in DERIVED}, kpi.id
            assert set(kpi.metrics) <= metric_names(named[kpi.query].expr), kpi.id
        else:
            missing = [m for m in kpi.metrics if not _polled_plain(m)]
            assert not missing, f"{kpi.id}: {missing} not polled"


def test_per_request_metrics_are_only_read_through_named_aggregations() -> None:
    # latency (one point per request) must never be polled as a plain selector: a window function over
    # 30 s polls would see two samples a minute.
    assert not _polled_plain("latency") and not _polled_plain("http")
    assert "gorouter_latency_p95" in {q.name for q in DERIVED}
    per_app = {q.name or q.expr for q in DERIVED if q.per_app}
    assert {
        "cf_app_http_requests_per_second",
        "cf_app_http_5xx_per_second",
        "cf_app_http_latency_p95_ns",
    } <= per_app
    assert {
        'cpu{source_id="{app_guid}"}',
        'memory{source_id="{app_guid}"}',
        'disk{source_id="{app_guid}"}',
    } <= per_app


def test_every_alert_rule_has_the_pack_labels_and_annotations() -> None:
    assert {g.name for g in PACK} >= {"cloudfoundry-gorouter", "cloudfoundry-bbs", "cloudfoundry-bosh"}
    alerts = [rule for rule in RULES if not rule.record]
    assert len({rule.name for rule in alerts}) >= 40
    for rule in alerts:
        labels, annotations = dict(rule.labels), dict(rule.annotations)
        assert labels["pack"] == "cloudfoundry" and labels["severity"] in {"warning", "critical"}, rule.name
        assert labels["component"], rule.name
        assert {"summary", "description", "threshold", "runbook"} <= set(annotations), rule.name
        assert rule.expr.rstrip().endswith(annotations["threshold"]), rule.name


def test_the_source_polls_the_derived_queries_by_default(fake: FakeCF) -> None:
    source = LogCacheSource(
        make_config(fake, log_cache={"url": fake.base_url}), MemoryStore(), registry=CollectorRegistry()
    )
    assert source.queries == DERIVED
    asyncio.run(source.stop())


def test_catalogue_errors_name_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "kpis.yaml"
    text = load_catalogue().model_dump_json(by_alias=True)
    path.write_text(text.replace('"query":"gorouter_latency_p95"', '"query":"nope"', 1))
    with pytest.raises(CatalogueError, match=rf"{re.escape(str(path))}: .*'query' names no entry"):
        load_catalogue(path)
    path.write_text(text.replace('"op":">="', '"op":"=>"', 1))
    with pytest.raises(CatalogueError, match=rf"{re.escape(str(path))}: kpis\[0\]\.op"):
        load_catalogue(path)


def test_a_rule_that_does_not_parse_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up{source_id='x' >\n")
    with pytest.raises(CloudFoundryError, match=rf"{re.escape(str(path))}: groups\[0\]\.rules\[0\]\.expr"):
        derive_queries([path])
