"""``paramedic slo check``: valid files print rules the rule loader accepts; bad files exit 2 naming file,
line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from alerting.rules import parse_groups
from paramedic.cli import app

GOOD = """
slos:
  - name: web-latency
    org: acme
    space: prod
    app: web
    objective: 99.5
    window: 28d
    sli: {type: latency, threshold_s: 0.5}
  - name: space-availability
    org: acme
    space: prod
    objective: 99.9
    sli: {type: availability, matchers: 'job="router"'}
    alerting: {name: AcmeProdBurn, page_labels: {severity: critical}}
"""

BAD = [
    ("slos: [{name: a, org: o, space: s, objective: 99, window: 30h, sli: {type: availability}}]",
     "x.yaml:1: slos[0].window: Value error, use whole days"),
    ("slos:\n  - {name: a, org: o, space: s, objective: 99, sli: {type: latency}}",
     "x.yaml:2: slos[0].sli.threshold_s: Field required"),
    ("slos:\n  - {name: a, org: o, space: s, objective: 99, sli: {type: availability, matchers: 'code=='}}",
     "x.yaml:2: slos[0].sli.matchers: Value error, not a PromQL label matcher list"),
    ("slos:\n  - {name: a, org: o, space: s, objective: 99, sli: {type: apdex}}",
     "x.yaml:2: slos[0].sli: Input tag 'apdex'"),
    ("slos:\n  - {name: a, org: o, space: s, objective: 99, sli: {type: availability},"
     " alerting: {labels: {org: x}}}",
     "x.yaml:2: slos[0].alerting.labels: Value error, 'org' is set by the SLO itself"),
    ("slos:\n  - {name: a, org: o, space: s, objective: 99, sli: {type: availability}}\n"
     "  - {name: a, org: o, space: s, objective: 98, sli: {type: availability}}",
     "x.yaml:3: slos[1].name: duplicate SLO 'o/s/a'"),
    ("slos: [", "x.yaml:1: not valid YAML"),
    ("slos:\n  - {name: a, org: o, space: s, objective: 99, interval: 0s, sli: {type: availability}}",
     "x.yaml:2: slos[0].interval: Value error, use 1s to 10m"),
    # attacks on tenancy: a matcher that would widen the SLO's selectors past its own org/space
    ("slos:\n  - {name: a, org: o, space: s, objective: 99,\n"
     "     sli: {type: availability, matchers: 'space=~\".+\"'}}",
     "x.yaml:3: slos[0].sli.matchers: Value error, 'space' is set by the SLO itself"),
    ("slos:\n  - {name: a, org: o, space: s, objective: 99,\n"
     "     sli: {type: availability, error_matchers: 'code=\"5xx\" or job=\"router\"'}}",
     "x.yaml:3: slos[0].sli.error_matchers: Value error, a plain list of label matchers, without `or`"),
    ("- just a list", "x.yaml:1: the top level must be a mapping"),
]  # fmt: skip


def test_check_prints_rules_the_rule_loader_accepts(tmp_path: Path) -> None:
    (tmp_path / "slos.yaml").write_text(GOOD)
    result = CliRunner().invoke(app, ["slo", "check", str(tmp_path / "slos.yaml")])
    assert result.exit_code == 0, result.output
    groups = parse_groups(result.stdout, "generated")
    assert len(groups) == 6 and sum(len(g.rules) for g in groups) == 2 * (8 + 6 + 2)
    alerts = [r for g in groups for r in g.rules if not r.record]
    assert {r.name for r in alerts} == {"SLOErrorBudgetBurn", "AcmeProdBurn"}
    assert {r.labels["severity"] for r in alerts if r.name == "AcmeProdBurn"} == {"critical", "ticket"}
    # the 28-day SLO's page threshold: 2 % of the budget in an hour = 0.02 * 28 * 24 = 13.44x
    page = next(r for r in alerts if r.name == "SLOErrorBudgetBurn" and r.labels["slo_severity"] == "page")
    assert "> (13.44 * 0.005)" in page.expr
    doc = yaml.safe_load(result.stdout)
    assert all(r["labels"]["org"] == "acme" for g in doc["groups"][:2] for r in g["rules"])


@pytest.mark.parametrize(("text", "message"), BAD)
def test_a_bad_file_exits_2_naming_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["slo", "check", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"{tmp_path}/{message}" in result.stderr, result.stderr


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["slo", "check", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    assert "none.yaml: cannot read" in result.stderr
