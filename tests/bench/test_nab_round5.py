"""bench/_nab_round5.py: the fifth round's NAB member candidates (the bench is not run in CI)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from alerting.anomaly import default_detector
from bench._nab_round5 import ROUND5, _NumentaLikelihood

T0 = datetime(2024, 1, 1)


def _series(n: int) -> list[float]:
    return [10.0 + 3.0 * math.sin(i / 7.0) + 0.1 * ((i * 7919) % 13) for i in range(n)]


def test_numenta_likelihood_is_log_scaled_tail_probability_of_the_moving_average() -> None:
    lik = _NumentaLikelihood(window=100, short=10)
    errs = [0.05 + 0.01 * (i % 5) for i in range(100)]
    for e in errs:
        lik.add(e)
    assert lik.peek(0.0) == 0.0  # below the mean of the moving averages
    small, large = lik.peek(0.3), lik.peek(0.9)
    assert 0.0 < small < large <= 1.0
    # the moving average with 0.9 against the mean of the stored moving averages; their variance is below
    # Numenta's floor 0.0003, so the floor is the variance
    recent = [0.05 + 0.01 * (i % 5) for i in range(91, 100)]
    averages = [sum(errs[max(0, i - 9) : i + 1]) / len(errs[max(0, i - 9) : i + 1]) for i in range(100)]
    z = ((sum(recent) + 0.9) / 10 - sum(averages) / 100) / math.sqrt(0.0003)
    assert math.isclose(large, math.log(0.5 * math.erfc(z / math.sqrt(2.0)) + 1e-10) / math.log(1e-10))


def test_every_member_is_causal_and_in_range() -> None:
    values = _series(1200)
    values[900] = 40.0
    times = [T0 + timedelta(minutes=5 * i) for i in range(len(values))]
    for name, cls in ROUND5.items():
        det = cls(values)
        scores = [det.process(x, t) for x, t in zip(values, times, strict=True)]
        prefix = cls(values[:901])
        early = [prefix.process(x, t) for x, t in zip(values[:901], times[:901], strict=True)]
        assert scores[:901] == early, name  # a score sees only rows up to its own
        assert all(0.0 <= s <= 1.0 for s in scores), name


def test_rare_twice_needs_two_rare_samples_in_a_row() -> None:
    values = _series(1400)
    values[5], values[6] = 0.0, 20.0  # the range, during the warm-up
    values[1000] = 17.0  # one blip into a band the recent window never visited
    values[1300], values[1301] = 4.0, 4.1  # a shift into a new band: two rare values in a row
    times = [T0 + timedelta(minutes=5 * i) for i in range(len(values))]
    base, twice = default_detector(), ROUND5["rare-twice"](values)
    b = [base.process(x, t) for x, t in zip(values, times, strict=True)]
    w = [twice.process(x, t) for x, t in zip(values, times, strict=True)]
    floor = base.config.rare_score
    assert b[1000] >= floor and w[1000] < floor  # the blip: a floor for the default, none here
    assert w[1300] < floor <= w[1301]  # the second rare sample in a row is floored
