"""bench/_nab_round6.py: the sixth round's NAB member candidates (the bench is not run in CI)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from alerting.anomaly import EnsembleDetector, default_detector
from bench._nab_round6 import ROUND6

T0 = datetime(2024, 1, 1)


def _series(n: int) -> list[float]:
    return [10.0 + 3.0 * math.sin(i / 7.0) + 0.1 * ((i * 7919) % 13) for i in range(n)]


def _times(n: int, minutes: int = 60) -> list[datetime]:
    return [T0 + timedelta(minutes=minutes * i) for i in range(n)]


def _scores(det: EnsembleDetector, values: list[float], times: list[datetime]) -> list[float]:
    process = det.process
    return [process(x, t) for x, t in zip(values, times, strict=True)]


def test_every_member_is_causal_and_in_range() -> None:
    values = _series(1200)
    values[900] = 40.0
    times = _times(len(values), 5)
    for name, cls in ROUND6.items():
        scores = _scores(cls(values), values, times)
        early = _scores(cls(values[:901]), values[:901], times[:901])
        assert scores[:901] == early, name  # a score sees only rows up to its own
        assert all(0.0 <= s <= 1.0 for s in scores), name


def test_a_level_shift_floor_fires_where_the_default_does_not() -> None:
    # hourly noise around 10 for 25 days, then a slow swell of +1.5 over two days, inside the range a spike
    # in the warm-up set (the range floor is silent) and in steps too small for the rarity test
    values = [10.0 + 0.3 * math.sin(i * 1.3) + 0.2 * ((i * 7919) % 7) / 7 for i in range(700)]
    values[5] = 20.0
    for i in range(600, 700):
        values[i] += 1.5 * min(1.0, (i - 600) / 48)
    times = _times(len(values))
    base = _scores(default_detector(), values, times)
    floor = _scores(ROUND6["level-shift-floor-6h6d-L0.4"](values), values, times)
    rare = default_detector().config.rare_score
    assert max(base[600:]) < rare  # the default lets the swell through (its predictors follow it)
    assert max(floor[600:]) >= rare  # the member's likelihood reaches its level: floored
    assert floor[:600] == base[:600]  # and nothing changes before it


def test_rare_quiet_shuts_only_the_rarity_floor_after_it_fires() -> None:
    values = _series(1400)
    values[5], values[6] = 0.0, 20.0  # the range, during the warm-up
    values[1000] = 17.0  # a blip into a band the recent window never visited: the rarity floor fires
    values[1100] = 2.0  # another one, 100 samples (100 h) later: shut for 7 days, not for 1
    times = _times(len(values))
    base = _scores(default_detector(), values, times)
    one, seven = (_scores(ROUND6[n](values), values, times) for n in ("rare-quiet-1d", "rare-quiet-7d"))
    rare = default_detector().config.rare_score
    assert base[1000] >= rare and one[1000] >= rare and seven[1000] >= rare
    assert base[1100] >= rare and one[1100] >= rare
    assert seven[1100] < rare


def test_rare_decay_lowers_the_floor_after_each_firing() -> None:
    values = _series(1400)
    values[5], values[6] = 0.0, 20.0
    values[1000], values[1100] = 17.0, 2.0
    times = _times(len(values))
    base = _scores(default_detector(), values, times)
    half = _scores(ROUND6["rare-decay-0.5"](values), values, times)
    rare = default_detector().config.rare_score
    assert half[1000] == base[1000] >= rare  # the first firing: the full floor
    assert half[1100] < rare <= base[1100]  # the second: half of it
