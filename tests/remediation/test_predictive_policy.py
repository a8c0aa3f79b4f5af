"""The predictive scale policy's decision (hand-worked counts: hybrid floor, confidence gate, cold start,
clamps), its forecast ledger, and the ``predictive:`` block's validation with file:line: key errors."""

from __future__ import annotations

import math
import textwrap

import pytest

from remediation.policy.loader import PolicyError, parse_policy_file
from remediation.policy.schema import policy_schema
from remediation.predictive.forecast import SeasonalNaive
from remediation.predictive.live_model import AppModel
from remediation.predictive.policy import ForecastLedger, decide, instances_for
from remediation.predictive.policy_config import PredictiveSpec


def spec(**kw: object) -> PredictiveSpec:
    # one instance serves 10 req/s; at 50 % target utilisation it is given 5 req/s
    raw: dict[str, object] = {"query": 'rate(x{app="$app"}[1m])', "capacity_per_instance": 10}
    raw.update(target_utilization=0.5, max_error=0.25, season="1h", history="2h")
    raw.update(kw)
    return PredictiveSpec.model_validate(raw)


def test_instances_for_is_the_ceiling_of_load_over_usable_capacity() -> None:
    assert instances_for(28.0, 10, 0.7) == 4  # 28 / 7 = 4.0 exactly (float noise is not a 5th)
    assert instances_for(28.1, 10, 0.7) == 5
    assert instances_for(0.0, 10, 0.7) == 0
    assert instances_for(-3.0, 10, 0.7) == 0
    assert instances_for(math.nan, 10, 0.7) == 0


def test_cold_start_is_reactive() -> None:
    d = decide(spec(), actual=12.0, forecast=None, error=None, min_instances=1, max_instances=8)
    assert (d.instances, d.reactive, d.predicted, d.basis) == (3, 3, None, "cold_start")  # 12 / 5 -> 3


def test_predictive_mode_follows_the_forecast_even_below_reactive() -> None:
    s = spec(mode="predictive")
    up = decide(s, actual=10.0, forecast=30.0, error=0.9, min_instances=1, max_instances=8)
    assert (up.instances, up.reactive, up.predicted, up.basis) == (6, 2, 6, "predictive")
    down = decide(s, actual=10.0, forecast=4.0, error=None, min_instances=1, max_instances=8)
    assert (down.instances, down.basis) == (1, "predictive")  # 4 / 5 -> 1, under the reactive 2


def test_hybrid_scales_ahead_when_the_forecast_is_trusted() -> None:
    d = decide(spec(), actual=10.0, forecast=30.0, error=0.1, min_instances=1, max_instances=8)
    assert (d.instances, d.reactive, d.predicted, d.basis) == (6, 2, 6, "hybrid")
    assert "forecast 30" in d.reason and d.as_dict()["error"] == 0.1


def test_hybrid_never_goes_below_the_reactive_count() -> None:
    d = decide(spec(), actual=10.0, forecast=4.0, error=0.1, min_instances=1, max_instances=8)
    assert (d.instances, d.predicted, d.basis) == (2, 1, "reactive_floor")


def test_hybrid_falls_back_to_reactive_above_max_error_and_before_any_forecast_matured() -> None:
    gated = decide(spec(), actual=10.0, forecast=30.0, error=0.3, min_instances=1, max_instances=8)
    assert (gated.instances, gated.predicted, gated.basis) == (2, 6, "gated")
    assert "above max_error 0.25" in gated.reason
    at_limit = decide(spec(), actual=10.0, forecast=30.0, error=0.25, min_instances=1, max_instances=8)
    assert at_limit.basis == "hybrid"  # "above" max_error: equal is still trusted
    unknown = decide(spec(), actual=10.0, forecast=30.0, error=None, min_instances=1, max_instances=8)
    assert (unknown.instances, unknown.basis) == (2, "unknown_error")


def test_counts_are_clamped_to_the_actions_min_and_max() -> None:
    d = decide(spec(), actual=100.0, forecast=1000.0, error=0.0, min_instances=2, max_instances=8)
    assert (d.instances, d.reactive, d.predicted) == (8, 8, 8)
    idle = decide(spec(), actual=0.0, forecast=0.0, error=0.0, min_instances=2, max_instances=8)
    assert (idle.instances, idle.reactive) == (2, 2)


def test_ledger_matures_forecasts_with_the_actual_that_arrived_and_weights_the_error() -> None:
    ledger = ForecastLedger(interval_s=10, window=2)
    assert ledger.error() is None
    ledger.forecast(100, 10.0)
    ledger.forecast(110, 20.0)
    ledger.forecast(105, 99.0)  # not after the last target: ignored
    assert ledger.actual(90, 5.0) == []
    assert ledger.actual(100, 12.0) == [(100, 10.0, 12.0)]
    assert ledger.actual(110, 20.0) == [(110, 20.0, 20.0)]
    assert ledger.error() == pytest.approx(2 / 32)  # (|10-12| + |20-20|) / (12 + 20)
    ledger.forecast(120, 0.0)
    ledger.actual(120, 8.0)  # the window keeps the last two: (20, 20) and (0, 8)
    assert ledger.error() == pytest.approx(8 / 28)


def test_ledger_skips_a_forecast_whose_target_fell_in_a_gap() -> None:
    ledger = ForecastLedger(interval_s=10, window=5)
    ledger.forecast(100, 10.0)
    assert ledger.actual(200, 50.0) == []  # nothing near t=100 arrived
    assert ledger.error() is None


GOOD = """\
policies:
  - name: ahead
    target: {app: checkout}
    action: {type: scale, min_instances: 1, max_instances: 6}
    predictive:
      query: 'sum(rate(http_requests_total{app="$app"}[1m]))'
      capacity_per_instance: 20
      startup: 2m
      interval: 30s
      history: 2d
"""


def test_a_predictive_policy_validates_with_durations_and_defaults() -> None:
    [loaded] = parse_policy_file(GOOD, "p.yaml")
    p = loaded.policy.predictive
    assert p is not None
    assert (p.startup, p.interval, p.history, p.season) == (120.0, 30.0, 172_800.0, 86_400.0)
    assert (p.mode, p.target_utilization, p.max_error) == ("hybrid", 0.7, 0.25)
    assert loaded.policy.mode == "dry_run"


P0 = "policies[0]."
MATCHER = "trigger: {matchers: ['alertname=X']}\n    target: {app: c}"


@pytest.mark.parametrize(
    ("edit", "key", "message"),
    [
        (("_instance: 20", "_instance: 0"), "predictive.capacity_per_instance", "greater than 0"),
        (("{type: scale, min_instances: 1, max_instances: 6}", "{type: restart_app}"), "predictive", "scale"),
        (("min_instances: 1,", "adjustment: '+1', min_instances: 1,"), "action.adjustment", "sets the count"),
        (('{app="$app"}', '{app="x"}'), "predictive.query", "must contain $app"),
        (("[1m]))'", "[1m]'"), "predictive.query", "not PromQL"),
        (("interval: 30s", "interval: 1s"), "predictive", "more than 11000 points"),
        (("history: 2d", "history: 1h"), "predictive", "shorter than season"),
        (("target: {app: checkout}", "target: {}"), "predictive.apps", "name the apps"),
        (("target: {app: checkout}", MATCHER), "trigger", "runs every predictive.interval"),
        (("startup: 2m", "startup: 2m\n      mode: sometimes"), "predictive.mode", "predictive"),
    ],
)  # fmt: skip
def test_predictive_problems_name_file_line_and_key(edit: tuple[str, str], key: str, message: str) -> None:
    text = GOOD.replace(*edit)
    assert text != GOOD
    with pytest.raises(PolicyError) as err:
        parse_policy_file(text, "p.yaml")
    found = [str(p) for p in err.value.problems]
    assert any(f.startswith("p.yaml:") and P0 + key in f and message in f for f in found), found


def test_the_schema_publishes_the_predictive_block() -> None:
    defs = policy_schema()["$defs"]
    props = defs["PredictiveSpec"]["properties"]
    wanted = {"query", "capacity_per_instance", "target_utilization", "startup", "mode", "max_error"}
    assert wanted <= set(props)
    assert {"type": "number"} in props["startup"]["anyOf"]  # durations: seconds or "2m"
    assert props["mode"]["enum"] == ["predictive", "hybrid"]


def test_docs_example_in_the_module_validates() -> None:
    from remediation.predictive import policy_config  # noqa: PLC0415

    doc = policy_config.__doc__ or ""
    example = textwrap.dedent(doc[doc.index("policies:") : doc.index("The policy asks")])
    [loaded] = parse_policy_file(example, "doc.yaml")
    assert loaded.policy.predictive is not None


def test_model_is_cold_until_a_whole_season_then_forecasts_out_of_sample() -> None:
    s = spec()  # season 1h, interval 60 s, startup 120 s
    model = AppModel(s, lambda: SeasonalNaive(s.season))
    model.fit([], now=0.0)  # no history: cold
    assert model.forecast is None and model.last_t is None
    model.feed([(float(t), t / 60) for t in range(0, 3600, 60)])
    assert model.forecast is None  # 59 minutes seen: not a whole season
    model.feed([(3600.0, 60.0)])
    assert model.forecast == 2.0  # for 3720 s: the value one season earlier, at 120 s (120 / 60)
    assert model.ledger.error() is None  # nothing it forecast has arrived yet
    model.feed([(3660.0, 61.0), (3720.0, 62.0)])
    assert list(model.ledger.matured) == [(3720.0, 2.0, 62.0)]
