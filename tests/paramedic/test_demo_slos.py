"""The local demo's SLOs: two per app, in the app's space, valid, and loaded by the demo's config."""

from __future__ import annotations

from pathlib import Path

import yaml

from alerting.slo import load_slo_files, rules_yaml
from paramedic.config import parse_config
from paramedic.demo import DemoSinks, demo_config
from paramedic.demo._config import demo_spaces


def test_the_demo_config_loads_an_slo_file_for_every_app(tmp_path: Path) -> None:
    spaces = demo_spaces(["web", "api", "worker"])
    raw = demo_config(tmp_path, 8080, 2.0, sinks=DemoSinks(2525, 9099), spaces=spaces)
    cfg = parse_config(yaml.safe_dump(raw))
    assert cfg.rules is not None
    (path,) = cfg.rules.slo_files
    slos = load_slo_files([path])
    assert {(s.org, s.space, s.app, s.sli.type) for s in slos} == {
        (org, space, app, kind)
        for tenant, apps in spaces.items()
        for org, _, space in [tenant.partition("/")]
        for app in apps
        for kind in ("availability", "latency")
    }
    assert "slo:sli_error:ratio_rate5m" in rules_yaml(slos)


def test_no_slos_without_tenancy(tmp_path: Path) -> None:
    raw = demo_config(tmp_path, 8080, 2.0, sinks=DemoSinks(2525, 9099))
    assert raw["rules"]["slo_files"] == []
