"""MannWhitneyJudge on synthetic samples: ties, identical distributions, clear regressions, small n."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from remediation.base import Judge
from remediation.judge import MannWhitneyJudge, is_inconclusive


def latency_judge(max_increase: float = 20.0, **kw: Any) -> MannWhitneyJudge:
    return MannWhitneyJudge(max_increase=max_increase, tolerance="relative_pct", **kw)


def error_judge(max_increase: float = 0.01) -> MannWhitneyJudge:
    return MannWhitneyJudge(max_increase=max_increase, tolerance="absolute")


def normal(seed: int, mu: float, sigma: float, n: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mu, sigma) for _ in range(n)]


def test_implements_the_judge_protocol() -> None:
    assert isinstance(latency_judge(), Judge)


def test_identical_samples_pass_with_no_effect() -> None:
    old = normal(1, 0.1, 0.01, 40)
    v = latency_judge().judge(old, list(old))
    assert v.passed
    assert v.stats["effect_size"] == pytest.approx(0.0)
    assert v.stats["p_value"] > 0.4
    assert v.stats["n_old"] == v.stats["n_new"] == 40
    assert not is_inconclusive(v)


def test_same_distribution_different_draws_pass() -> None:
    v = latency_judge().judge(normal(1, 0.1, 0.01, 60), normal(2, 0.1, 0.01, 60))
    assert v.passed, v.reason


def test_all_ties_pass_with_p_one() -> None:
    v = error_judge().judge([0.0] * 30, [0.0] * 30)
    assert v.passed
    assert v.stats["p_value"] == 1.0
    assert v.stats["effect_size"] == 0.0
    assert v.stats["increase"] == 0.0


def test_clear_latency_regression_fails_with_stats() -> None:
    old, new = normal(1, 0.100, 0.01, 30), normal(2, 0.200, 0.02, 30)
    v = latency_judge().judge(old, new)
    assert not v.passed
    assert v.reason.startswith("regression")
    assert v.stats["p_value"] < 1e-6
    assert v.stats["effect_size"] == pytest.approx(1.0)  # every new sample is slower than every old one
    assert v.stats["median_old"] == pytest.approx(0.1, abs=0.01)
    assert v.stats["median_new"] == pytest.approx(0.2, abs=0.02)
    assert v.stats["increase_pct"] == pytest.approx(100, abs=25)


def test_improvement_passes_one_sided() -> None:
    v = latency_judge().judge(normal(1, 0.2, 0.02, 30), normal(2, 0.1, 0.01, 30))
    assert v.passed
    assert v.stats["effect_size"] == pytest.approx(-1.0)
    assert v.stats["p_value"] > 0.99


def test_significant_but_within_tolerance_passes() -> None:
    old = normal(1, 0.100, 0.002, 50)
    new = [x * 1.05 for x in normal(2, 0.100, 0.002, 50)]  # 5 % slower, tolerance 20 %
    v = latency_judge().judge(old, new)
    assert v.passed
    assert "within tolerance" in v.reason
    assert v.stats["p_value"] < 0.05
    assert v.stats["effect_size"] > 0.2


def test_significant_but_small_effect_passes() -> None:
    # Large n: a tiny shift is significant, but the rank-biserial effect stays under the bound.
    old = normal(1, 1.0, 1.0, 4000)
    new = [x + 0.15 for x in normal(2, 1.0, 1.0, 4000)]
    v = latency_judge(max_increase=0.0, min_effect_size=0.2).judge(old, new)
    assert v.stats["p_value"] < 0.05
    assert 0 < v.stats["effect_size"] < 0.2
    assert v.passed
    assert "effect too small" in v.reason


def test_small_n_is_inconclusive_and_passes() -> None:
    v = latency_judge().judge([0.1, 0.1, 0.1], [5.0, 5.0, 5.0, 5.0, 5.0])
    assert v.passed
    assert is_inconclusive(v)
    assert v.reason.startswith("inconclusive")
    assert v.stats["n_old"] == 3


def test_smallest_conclusive_sample_can_fail() -> None:
    v = latency_judge().judge([0.10, 0.11, 0.12, 0.13, 0.14], [0.30, 0.31, 0.32, 0.33, 0.34])
    assert not v.passed
    assert v.stats["p_value"] == pytest.approx(1 / 252)  # exact test, C(10, 5) orderings


def test_non_finite_samples_are_dropped() -> None:
    old = [math.nan, 0.1, 0.1, 0.1, 0.1, 0.1, math.inf]
    v = latency_judge().judge(old, [0.1] * 5)
    assert v.stats["n_old"] == 5
    assert v.passed


def test_error_ratio_with_ties_at_zero_fails_on_absolute_increase() -> None:
    old = [0.0] * 25 + [0.01] * 5
    new = [0.0] * 5 + [0.2] * 25
    v = error_judge().judge(old, new)
    assert not v.passed
    assert v.stats["mean_old"] == pytest.approx(5 * 0.01 / 30)
    assert v.stats["increase"] == pytest.approx(v.stats["mean_new"] - v.stats["mean_old"])
    assert v.stats["median_old"] == 0.0


def test_error_ratio_small_increase_within_tolerance() -> None:
    old = [0.0] * 30
    new = [0.0] * 20 + [0.02] * 10  # mean +0.0067 < 0.01
    v = error_judge().judge(old, new)
    assert v.passed
    assert "within tolerance" in v.reason


def test_relative_increase_from_zero_median_is_infinite() -> None:
    v = latency_judge().judge([0.0] * 10, [0.5] * 10)
    assert not v.passed
    assert v.stats["increase_pct"] == math.inf


def test_lower_is_worse_direction() -> None:
    judge = latency_judge()
    old, new = normal(1, 100, 5, 30), normal(2, 50, 5, 30)  # e.g. throughput halves
    assert not judge.judge(old, new, higher_is_worse=False).passed
    assert judge.judge(new, old, higher_is_worse=False).passed


def test_two_sided_p_is_twice_the_one_sided() -> None:
    old, new = normal(1, 0.1, 0.01, 20), normal(2, 0.105, 0.01, 20)
    one = latency_judge().judge(old, new)
    two = latency_judge(two_sided=True).judge(old, new)
    assert two.stats["p_value"] == pytest.approx(min(1.0, 2 * one.stats["p_value"]))


def test_deterministic() -> None:
    old, new = normal(1, 0.1, 0.01, 30), normal(2, 0.12, 0.01, 30)
    assert latency_judge().judge(old, new) == latency_judge().judge(old, new)


@pytest.mark.parametrize(
    "kw",
    [{"alpha": 0.0}, {"alpha": 1.0}, {"min_effect_size": 1.5}, {"max_increase": -1.0}, {"min_samples": 0}],
)
def test_bad_parameters_are_refused(kw: dict[str, Any]) -> None:
    args: dict[str, Any] = {"max_increase": 1.0} | kw
    with pytest.raises(ValueError):
        MannWhitneyJudge(**args)
