"""The demo's daily load: its paramedic.yaml validates with the predictive policy of the daily app (never
below the demo's instance count), and the load generator accepts the options the demo gives it."""

from __future__ import annotations

from pathlib import Path

import pytest

from paramedic.config import parse_config
from paramedic.demo._config import DemoSinks, demo_config, demo_spaces
from paramedic.demo._daily import DAY_S, PEAK_RPS, POLICY_NAME, daily_load
from platforms.local import loadgen
from remediation.policy.loader import load_policy_files


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
