"""bench/_nab_round7.py: the daily break in the "missing" direction (the bench is not run in CI)."""

from __future__ import annotations

from datetime import datetime, timedelta

from alerting.anomaly import EnsembleDetector, default_detector
from bench._nab_round7 import ROUND7, MissingBreak

T0 = datetime(2024, 1, 1)
DAY = 288  # 5-minute samples


def _daily(days: int, missing_day: int | None = None, extra: tuple[int, int] | None = None) -> list[float]:
    """Noise around 10 with a +20 peak 09:00-11:00 every day (but ``missing_day``); ``extra``: (day, hour)
    of a one-off 2-hour +20 peak."""
    out = []
    for i in range(days * DAY):
        day, hour = divmod(i, DAY)
        v = 10.0 + 0.3 * ((i * 7919) % 13) / 13
        if 108 <= hour < 132 and day != missing_day:
            v += 20.0
        if extra is not None and day == extra[0] and extra[1] * 12 <= hour < (extra[1] + 2) * 12:
            v += 20.0
        out.append(v)
    return out


def _times(n: int) -> list[datetime]:
    return [T0 + timedelta(minutes=5 * i) for i in range(n)]


def _scores(det: EnsembleDetector, values: list[float]) -> list[float]:
    process = det.process
    return [process(x, t) for x, t in zip(values, _times(len(values)), strict=True)]


def test_every_member_is_causal_and_in_range() -> None:
    values = _daily(14, missing_day=11)
    for name, cls in ROUND7.items():
        scores = _scores(cls(values), values)
        early = _scores(cls(values[: 11 * DAY + 130]), values[: 11 * DAY + 130])
        assert scores[: 11 * DAY + 130] == early, name  # a score sees only rows up to its own
        assert all(0.0 <= s <= 1.0 for s in scores), name


def test_a_missing_daily_peak_is_floored_where_the_default_is_silent() -> None:
    values = _daily(14, missing_day=11)
    base = _scores(default_detector(), values)
    member = ROUND7["missing-break-k6-L0.6"](values)
    scores = _scores(member, values)
    rare = default_detector().config.rare_score
    day = slice(11 * DAY, 12 * DAY)
    assert max(base[day]) < 0.1  # the default: a baseline value at the peak's hour is nothing new
    first = next(i for i, s in enumerate(scores[day]) if s >= rare)
    assert 108 <= first <= 108 + 24  # within two hours of the peak's usual start (one hour of lag)
    assert scores[: 11 * DAY] == base[: 11 * DAY]  # nothing changes on the days the peak came
    assert member.floored > 0


def test_an_extra_peak_is_not_a_break_the_same_day() -> None:
    values = _daily(14, extra=(11, 14))
    member = ROUND7["missing-break-k6-L0.6"](values)
    _scores(member, values[: 12 * DAY])
    assert member.floored == 0  # today's peak where yesterday had none: not the "missing" direction


class _FloorStartsRefractory(MissingBreak):
    """The control: the default's learn_one, so a floored score starts the refractory period."""

    k = 6
    level = 0.6

    def learn_one(self, x: float, t: datetime) -> None:
        EnsembleDetector.learn_one(self, x, t)


def test_the_floor_never_starts_the_refractory_period() -> None:
    values = _daily(14, missing_day=11)
    incident = 11 * DAY + 150  # 12:30, after the floor at about 10:00
    for i in range(incident, incident + 3):
        values[i] = 90.0  # far outside the range: the range floor fires
    base = _scores(default_detector(), values)
    member = _scores(ROUND7["missing-break-k6-L0.6"](values), values)
    control = _scores(_FloorStartsRefractory(values), values)
    assert base[incident] >= default_detector().config.fire_level
    assert member[incident] == base[incident]  # the incident is scored as without the floor
    assert control[incident] == 0.0  # where a floor starts the refractory period, it masks the incident
