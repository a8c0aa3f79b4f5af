"""The demo's daily load: its paramedic.yaml validates with the predictive policy of the daily app (never
below the demo's instance count), and the load generator accepts the options the demo gives it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from paramedic.config import parse_config
from paramedic.demo._config import DemoSinks, demo_config, demo_spaces
from paramedic.demo._daily import DAY_S, PEAK_RPS, POLICY_NAME, daily_load
from platforms.local import loadgen
from remediation.policy.loader import load_policy_files
from tests.support.demo import paramedic_cli, processes_mentioning, running_demo
from tests.support.servers import wait_until


def test_demo_config_carries_the_predictive_policy_of_the_daily_app(tmp_path: Path) -> None:
    names = ["checkout", "catalog"]
    daily = daily_load(names, 3)
    assert daily is not None and daily.app == "catalog"
    cfg = demo_config(
        tmp_path,
        8080,
        5.0,
        sinks=DemoSinks(smtp_port=2525, webhook_port=8025),
        spaces=demo_spaces(names),
        daily=daily,
    )
    import yaml  # noqa: PLC0415

    parse_config(yaml.safe_dump(cfg), "paramedic.yaml")
    [policy] = [p for p in load_policy_files(cfg["remediation"]["policy_files"]) if p.predictive is not None]
    assert policy.name == POLICY_NAME and policy.mode == "live" and policy.target.app == "catalog"
    assert (policy.action.min_instances, policy.action.max_instances) == (3, 6)  # type: ignore[attr-defined]
    spec = policy.predictive
    assert spec is not None and spec.season == DAY_S and spec.history == 2 * DAY_S
    # the peak needs more instances than the night's minimum, the night no more than it
    usable = spec.capacity_per_instance * spec.target_utilization
    assert PEAK_RPS / usable > 3 >= PEAK_RPS * loadgen.daily_shape(0.0) / usable


def test_loadgen_accepts_the_demos_options_and_rejects_nonsense(capsys: pytest.CaptureFixture[str]) -> None:
    daily = daily_load(["a"], 1)
    assert daily is not None
    with pytest.raises(SystemExit):
        loadgen.parse_args(["--router", "127.0.0.1:1", "--apps", "a", "--pattern", "daily", "--day-s", "1"])
    assert "--day-s must be at least 10" in capsys.readouterr().err
    args = loadgen.parse_args(["--router", "127.0.0.1:1", "--apps", "a,b", *daily.loadgen_args()])
    assert (args.pattern, args.day_s, args.peak_rps, args.pattern_apps) == ("daily", DAY_S, PEAK_RPS, "a")


def test_daily_rate_follows_the_day_curve() -> None:
    rate = loadgen.daily_rate(30.0, 240.0)  # ten seconds an hour
    assert rate(0.0) == pytest.approx(3.0)  # midnight: 0.1 of the peak
    assert rate(75.0) == pytest.approx(30.0 * (0.1 + 0.7 * 1.5 / 3))  # 07:30: halfway up the ramp
    assert rate(130.0) == pytest.approx(30.0)  # 13:00: the midday plateau
    assert rate(240.0 + 130.0) == pytest.approx(30.0)  # the next day repeats


@pytest.mark.integration
def test_the_daily_demo_runs_the_daily_load_and_its_predictive_policy(tmp_path: Path) -> None:
    """``paramedic demo --daily``: the load generator runs the day pattern for the second app, the live
    predictive policy is loaded and decides (cold start: reactive) every interval; ``--daily`` is refused on
    the Cloud Foundry demo."""
    with running_demo(tmp_path / "demo", apps=2, instances=1, extra_args=["--daily"]) as demo:
        record = json.loads((demo.data_dir / "demo.json").read_text())
        assert record["daily_app"] == "catalog"
        assert any(
            "--pattern daily" in p and "--pattern-apps catalog" in p for p in processes_mentioning("loadgen")
        )
        policies = httpx.get(f"{demo.api}/api/v1/policies", headers=demo.auth_headers, timeout=10).json()
        [daily] = [p for p in policies["policies"] if p["name"] == POLICY_NAME]
        assert daily["mode"] == "live"

        def decided() -> bool:
            text = httpx.get(f"{demo.api}/metrics", timeout=10).text
            return any(
                line.startswith("paramedic_predictive_decisions_total{")
                and f'policy="{POLICY_NAME}"' in line
                and float(line.rsplit(" ", 1)[1]) > 0
                for line in text.splitlines()
            )

        wait_until(decided, 60, "a decision of the daily policy", interval_s=1)
    refused = paramedic_cli(
        "demo", "--daily", "--platform", "cloudfoundry", "--data-dir", str(tmp_path / "cf")
    )
    assert refused.returncode == 2 and "--daily" in refused.stderr
