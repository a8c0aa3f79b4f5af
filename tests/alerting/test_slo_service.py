"""``rules.slo_files`` in the alerting service: generated rules loaded at start, replaced on reload, and a bad
SLO file on reload refused with the running SLOs and rules kept. The docs' example file is valid."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from alerting.config import RulesConfig
from alerting.rules import RuleFileError
from alerting.slo import load_slo_files
from metrics_store.memory import MemoryStore
from paramedic.alerting import AlertingService

DOCS = Path(__file__).parents[2] / "docs" / "slo.md"
ONE = "slos:\n  - {name: %s, org: acme, space: prod, app: web, objective: 99, sli: {type: availability}}\n"


def _service(tmp_path: Path) -> AlertingService:
    return AlertingService(
        RulesConfig(slo_files=["slos.yaml"]),
        None,
        base_dir=tmp_path,
        store=MemoryStore(),
        patterns=None,
        server_url="http://127.0.0.1",
        registry=CollectorRegistry(),
    )


def _groups(service: AlertingService) -> set[str]:
    assert service.rules is not None
    return {g.name for g in service.rules.groups}


def test_reload_replaces_the_slos_and_a_bad_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "slos.yaml").write_text(ONE % "first")
    service = _service(tmp_path)
    assert [s.name for s in service.slos] == ["first"]
    assert "slo-alerts-acme/prod/first" in _groups(service)

    (tmp_path / "slos.yaml").write_text(ONE % "second")
    asyncio.run(service.apply_config(RulesConfig(slo_files=["slos.yaml"]), None))
    assert [s.name for s in service.slos] == ["second"]
    assert "slo-alerts-acme/prod/second" in _groups(service)
    assert "slo-alerts-acme/prod/first" not in _groups(service)

    (tmp_path / "slos.yaml").write_text((ONE % "third").replace("objective: 99", "objective: 0"))
    asyncio.run(service.apply_config(RulesConfig(slo_files=["slos.yaml"]), None))
    assert [s.name for s in service.slos] == ["second"]
    assert "slo-alerts-acme/prod/second" in _groups(service)


def test_a_bad_slo_file_fails_the_start(tmp_path: Path) -> None:
    (tmp_path / "slos.yaml").write_text("slos: [{name: x}]")
    with pytest.raises(RuleFileError, match=r"slos.yaml:1: slos\[0\].org: Field required"):
        _service(tmp_path)


def test_the_documented_examples_are_valid(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), re.S)
    (tmp_path / "example.yaml").write_text(blocks[0])
    slos = load_slo_files([tmp_path / "example.yaml"])
    assert [(s.name, s.sli.type, s.window) for s in slos] == [
        ("web-availability", "availability", "30d"),
        ("web-latency", "latency", "28d"),
    ]
    cf = "slos:\n  - name: cf\n    org: o\n    space: s\n    objective: 99\n" + blocks[1]
    (tmp_path / "cf.yaml").write_text(cf)
    (slo,) = load_slo_files([tmp_path / "cf.yaml"])
    assert slo.sli.type == "availability" and slo.sli.per_second
