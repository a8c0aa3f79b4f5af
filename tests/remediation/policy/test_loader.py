from __future__ import annotations

import json
from pathlib import Path

import pytest

from remediation.config import Policy
from remediation.policy import (
    PolicyError,
    load_policies,
    load_policy_files,
    parse_policy_file,
    policy_version,
)
from remediation.policy.schema import policy_schema_json

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[3]
BAD = sorted(FIXTURES.glob("*.bad.yaml"))


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_bad_policy_files_name_file_line_and_key(path: Path) -> None:
    expected = path.with_suffix(".expect").read_text().strip()
    with pytest.raises(PolicyError) as info:
        load_policies([path])
    assert any(str(p).startswith(str(path.parent / expected.split(":")[0])) for p in info.value.problems)
    text = str(info.value).replace(str(path.parent) + "/", "")
    assert expected in text


def test_good_file_loads_with_versions_and_lines() -> None:
    loaded = load_policies([FIXTURES / "good.yaml"])
    assert [lp.policy.name for lp in loaded] == [
        "restart-hung-instance",
        "scale-out-on-latency",
        "business-hours",
    ]
    assert [lp.line for lp in loaded] == [2, 12, 16]
    assert all(len(lp.version) == 12 for lp in loaded)
    assert load_policy_files([FIXTURES / "good.yaml"])[0].mode == "live"


def test_duplicate_names_across_files_point_at_first_definition() -> None:
    with pytest.raises(PolicyError) as info:
        load_policies([FIXTURES / "good.yaml", FIXTURES / "other.yaml"])
    (problem,) = info.value.problems
    assert problem.file.endswith("other.yaml") and problem.line == 2
    assert "first defined at" in problem.message and "good.yaml:2" in problem.message


def test_version_is_canonical_content_hash() -> None:
    a = Policy.model_validate(
        {
            "name": "x",
            "trigger": {"matchers": ['a="b"']},
            "action": {"type": "restart_app"},
            "rails": {"cooldown": "5m"},
        }
    )
    b = Policy.model_validate(
        {
            "action": {"type": "restart_app"},
            "rails": {"cooldown": 300},
            "trigger": {"matchers": ['a="b"']},
            "name": "x",
        }
    )
    c = Policy.model_validate(
        {
            "name": "x",
            "trigger": {"matchers": ['a="b"']},
            "action": {"type": "restart_app"},
            "rails": {"cooldown": "6m"},
        }
    )
    assert policy_version(a) == policy_version(b) != policy_version(c)


def test_semantic_checks() -> None:
    text = """
policies:
  - name: s
    trigger: {schedule: {cron: "0 8 * * *", timezone: Mars/Olympus}}
    action: {type: scale, adjustment: "+1", instances: 3, min_instances: 5, max_instances: 2}
  - name: r
    trigger: {}
    action: {type: restart_instance}
"""
    with pytest.raises(PolicyError) as info:
        parse_policy_file(text, "p.yaml")
    msgs = [str(p) for p in info.value.problems]
    assert "p.yaml:4: policies[0].trigger.schedule.timezone: unknown time zone 'Mars/Olympus'" in msgs
    assert any(m.startswith("p.yaml:3: policies[0].target.app: a scheduled policy needs") for m in msgs)
    assert any(m.startswith("p.yaml:5: policies[0].action: scale needs exactly one") for m in msgs)
    assert any(m.startswith("p.yaml:5: policies[0].action.min_instances:") for m in msgs)
    assert any(m.startswith("p.yaml:7: policies[1].trigger: give `matchers` or a `schedule`") for m in msgs)
    assert any(m.startswith("p.yaml:6: policies[1].target.instance_label:") for m in msgs)


def test_not_yaml_and_not_a_mapping() -> None:
    with pytest.raises(PolicyError, match=r"^p.yaml:3: not valid YAML"):
        parse_policy_file("policies:\n  - [\n", "p.yaml")
    with pytest.raises(PolicyError, match=r"top level must be a mapping"):
        parse_policy_file("- a\n", "p.yaml")


def test_committed_schema_matches_generated() -> None:
    committed = (ROOT / "docs" / "policy.schema.json").read_text()
    assert committed == policy_schema_json(), "run: paramedic policy schema -o docs/policy.schema.json"
    schema = json.loads(committed)
    cooldown = schema["$defs"]["RailsConfig"]["properties"]["cooldown"]
    assert {"type": "number"} in cooldown["anyOf"] and any(
        a.get("type") == "string" for a in cooldown["anyOf"]
    )


def test_shipped_policy_packs_load() -> None:
    packs = sorted((ROOT / "remediation" / "packs").glob("*.yaml"))
    if packs:
        load_policies(packs)


def test_verify_expr_over_the_promql_text_guard_is_a_policy_problem() -> None:
    # 5,000 terms overflow the native parser's stack (a crashed process); the guard refuses them first
    chain = "-".join(["1"] * 5000)
    text = (
        "policies:\n  - name: p\n    trigger:\n      matchers: ['alertname=\"X\"']\n"
        f"    action: {{type: restart_app}}\n    verify: {{expr: '{chain}'}}\n"
    )
    with pytest.raises(PolicyError) as info:
        parse_policy_file(text, "p.yaml")
    assert "verify.expr: not PromQL" in str(info.value)
