from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from alerting.rules import parse_groups
from paramedic.cli import app
from remediation.policy import parse_policy_file
from remediation.policy.autoscaler import (
    AutoscalerError,
    convert,
    load_autoscaler_policy,
    parse_autoscaler_policy,
)

FIXTURES = Path(__file__).parent / "fixtures"


def test_full_policy_converts_to_rules_and_policies() -> None:
    result = convert(load_autoscaler_policy(FIXTURES / "autoscaler-full.json"), "checkout")
    rules = result.rules["groups"][0]["rules"]
    assert [r["alert"] for r in rules] == [
        "Autoscaler_checkout_memoryused_in_0",
        "Autoscaler_checkout_responsetime_out_1",
        "Autoscaler_checkout_queue_depth_out_2",
    ]
    assert rules[0]["expr"] == 'avg by (org, space, app) (memory{app="checkout"}) / 1048576 < 30'
    assert rules[0]["for"] == "600s"
    assert rules[2]["expr"] == 'avg by (org, space, app) (queue_depth{app="checkout"}) > 100'
    # the rules file is a valid Prometheus/Paramedic rule file
    assert parse_groups(yaml.safe_dump(result.rules), "r.yaml")
    # the policies file loads and validates
    loaded = {
        lp.policy.name: lp.policy for lp in parse_policy_file(yaml.safe_dump(result.policies), "p.yaml")
    }
    out = loaded["checkout-autoscale-responsetime-out-1"]
    assert out.mode == "dry_run" and out.rails.cooldown == 600.0
    assert out.trigger.matchers == ['alertname="Autoscaler_checkout_responsetime_out_1"']
    assert out.action.model_dump() == {
        "type": "scale", "adjustment": "+50%", "instances": None, "min_instances": 1, "max_instances": 4,
        "process_type": None,
    }  # fmt: skip
    start = loaded["checkout-schedule-recurring-schedule-0-start"]
    assert start.trigger.schedule is not None
    assert start.trigger.schedule.cron == "0 10 * * mon,tue,wed,sun"
    assert start.trigger.schedule.timezone == "Asia/Shanghai"
    assert start.action.model_dump()["instances"] == 5 and start.action.model_dump()["max_instances"] == 10
    end = loaded["checkout-schedule-recurring-schedule-0-end"]
    assert end.trigger.schedule is not None and end.trigger.schedule.cron == "0 18 * * mon,tue,wed,sun"
    assert end.action.model_dump()["instances"] == 1
    monthly = loaded["checkout-schedule-recurring-schedule-1-end"]
    assert monthly.trigger.schedule is not None and monthly.trigger.schedule.cron == "30 19 5,15,25 * *"
    date = loaded["checkout-schedule-specific-date-0-start"]
    assert date.trigger.schedule is not None and date.trigger.schedule.at == "2099-06-02T10:00:00+08:00"
    assert any("start_date/end_date" in w for w in result.warnings)


def test_bad_policy_names_the_json_key() -> None:
    with pytest.raises(
        AutoscalerError, match=r"autoscaler-bad.json: scaling_rules\[0\]\.operator: Input should be"
    ):
        load_autoscaler_policy(FIXTURES / "autoscaler-bad.json")
    with pytest.raises(AutoscalerError, match=r"instance_min_count: is above instance_max_count"):
        parse_autoscaler_policy(
            {"instance_min_count": 5, "instance_max_count": 2, "scaling_rules": []}, "x.json"
        )
    with pytest.raises(AutoscalerError, match=r"schedules.timezone: Value error, unknown time zone"):
        parse_autoscaler_policy(
            {"instance_min_count": 1, "instance_max_count": 2, "schedules": {"timezone": "Nowhere/Land"}},
            "x.json",
        )


def test_metric_map_override_and_bad_promql(tmp_path: Path) -> None:
    pol = parse_autoscaler_policy(
        {"instance_min_count": 1, "instance_max_count": 3,
         "scaling_rules": [{"metric_type": "cpu", "threshold": 80, "operator": ">", "adjustment": "+1"}]}
    )  # fmt: skip
    got = convert(pol, "web", {"cpu": 'max(cpu_pct{app_name="$app"})'})
    assert got.rules["groups"][0]["rules"][0]["expr"] == 'max(cpu_pct{app_name="web"}) > 80'
    with pytest.raises(AutoscalerError, match=r"scaling_rules\[0\]\.metric_type: the mapped PromQL"):
        convert(pol, "web", {"cpu": "rate(cpu[5m]"})


def test_cli_writes_both_files(tmp_path: Path) -> None:
    mm = tmp_path / "map.yaml"
    mm.write_text("queue_depth: 'sum(queue_len{app=\"$app\"})'\n")
    res = CliRunner().invoke(
        app,
        ["policy", "import-autoscaler", str(FIXTURES / "autoscaler-full.json"), "--app", "checkout",
         "--metric-map", str(mm), "--out-dir", str(tmp_path / "out")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rules = yaml.safe_load((tmp_path / "out" / "checkout-autoscaler.rules.yaml").read_text())
    assert rules["groups"][0]["rules"][2]["expr"] == 'sum(queue_len{app="checkout"}) > 100'
    check = CliRunner().invoke(
        app, ["policy", "check", str(tmp_path / "out" / "checkout-autoscaler.policies.yaml")]
    )
    assert check.exit_code == 0, check.output
    assert "checkout-schedule-specific-date-0-end" in check.output
    bad = CliRunner().invoke(
        app, ["policy", "import-autoscaler", str(FIXTURES / "autoscaler-bad.json"), "--app", "x"]
    )
    assert bad.exit_code == 1 and "scaling_rules[0].operator" in bad.output


def test_cli_stdout_is_two_yaml_documents() -> None:
    res = CliRunner().invoke(
        app, ["policy", "import-autoscaler", str(FIXTURES / "autoscaler-full.json"), "--app", "checkout"]
    )
    assert res.exit_code == 0
    docs = list(yaml.safe_load_all(res.stdout))
    assert "groups" in docs[0] and "policies" in docs[1]


def test_metric_map_over_the_promql_text_guard_is_refused() -> None:
    pol = parse_autoscaler_policy(
        {"instance_min_count": 1, "instance_max_count": 3,
         "scaling_rules": [{"metric_type": "cpu", "threshold": 80, "operator": ">", "adjustment": "+1"}]}
    )  # fmt: skip
    with pytest.raises(AutoscalerError, match=r"the mapped PromQL .* does not parse"):
        convert(pol, "web", {"cpu": "-".join(["1"] * 5000)})
