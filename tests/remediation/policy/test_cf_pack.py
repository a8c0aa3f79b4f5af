"""The Cloud Foundry policy pack (remediation/packs/cloudfoundry.yaml) loads through the policy loader and is
safe by default; bad canary gates are reported with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alerting.rules import PACKS_DIR
from remediation.actions.bluegreen import BlueGreenParams
from remediation.actions.scale import ScaleParams
from remediation.gates import CanaryGates, ThresholdGates
from remediation.policy.loader import PolicyError, load_policies, parse_policy_file

PACK = Path(__file__).resolve().parents[3] / "remediation" / "packs" / "cloudfoundry.yaml"


def test_cf_pack_loads_and_is_safe_by_default() -> None:
    loaded = load_policies([PACK])
    policies = {lp.policy.name: lp.policy for lp in loaded}
    assert len(policies) == 7
    for p in policies.values():
        assert p.mode == "dry_run", p.name
        assert p.target.app_label == "app_guid", p.name
        assert p.rails.cooldown is not None and p.rails.budget is not None, p.name
        assert p.rails.circuit_breaker is not None, p.name
    kinds = sorted(p.action.type for p in policies.values())
    assert kinds == ["blue_green", "restart_app", "restart_app", "restart_app", "rollback", "scale", "scale"]
    for p in policies.values():
        if isinstance(p.action, ScaleParams):
            assert p.action.max_instances <= 10
    [canary] = [p.action for p in policies.values() if isinstance(p.action, BlueGreenParams)]
    assert isinstance(canary.gates, CanaryGates) and canary.gates.preset == "cloudfoundry"
    gates = ThresholdGates.resolve(canary.gates)
    assert {c.name for c in gates.checks} == {"error_ratio", "p95_latency_s"}
    assert gates.min_requests == 50
    rollback = policies["cf-rollback-on-errors-after-deploy"]
    assert rollback.rails.approval is not None and rollback.rails.approval.required


BAD = """policies:
  - name: canary
    trigger:
      matchers: ['alertname="X"']
    action:
      type: blue_green
      gates:
        min_requests: 10
        checks:
          - name: error_ratio
            query: 'sum(rate(x{app=$app, instance=~$instance}[$window]))'
            max: 0.1
"""


def test_bad_gates_name_file_and_key() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy_file(BAD, "cf.yaml")
    text = str(info.value)
    assert "cf.yaml" in text
    assert "action.gates.requests: needed without a preset" in text
    assert "unknown placeholder(s) ['instance']" in text


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy_file(BAD.replace("min_requests: 10", "preset: kubernetes"), "cf.yaml")
    assert "gates" in str(info.value)


def test_the_metric_driven_policies_trigger_on_alerts_the_cf_rule_packs_raise() -> None:
    """CFAppCanaryRequested (raised by CI or an operator with a `revision` label), CFAppErrorsAfterDeploy and
    CFAppCrashLooping (raised from outside: no Log Cache metric gives them) aside, every trigger is an alert
    of the cloudfoundry or cloudfoundry-apps rule pack."""
    raised = {
        rule["alert"]
        for pack in ("cloudfoundry", "cloudfoundry-apps")
        for group in yaml.safe_load((PACKS_DIR / f"{pack}.yaml").read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    external = {"CFAppCanaryRequested", "CFAppErrorsAfterDeploy", "CFAppCrashLooping"}
    triggers = {
        m.split("=", 1)[1].strip('"')
        for lp in load_policies([PACK])
        for m in lp.policy.trigger.matchers
        if m.startswith("alertname=")
    }
    assert triggers - external <= raised, triggers - external - raised
    assert {"CFAppErrorRatioHigh", "CFAppUnresponsive", "CFAppCPUHigh", "CFAppLatencyHigh"} <= triggers
