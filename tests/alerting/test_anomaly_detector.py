"""The default detector: warm-up, range, determinism, causality, deploy grace, seasonality."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from alerting.anomaly import (
    EnsembleConfig,
    EnsembleDetector,
    default_detector,
)
from alerting.anomaly._likelihood import ErrorLikelihood

T0 = datetime(2024, 1, 1)
STEP = timedelta(minutes=5)


def _series(n: int, seed: int = 7, spike_at: int | None = None) -> list[tuple[float, datetime]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        t = T0 + i * STEP
        x = 50 + 20 * math.sin(2 * math.pi * (t.hour * 60 + t.minute) / 1440) + rnd.gauss(0, 1)
        if spike_at is not None and i == spike_at:
            x += 60
        out.append((x, t))
    return out


def _run(rows: list[tuple[float, datetime]]) -> list[float]:
    det = default_detector()
    return [det.process(x, t) for x, t in rows]


def test_warmup_returns_zero() -> None:
    rows = _series(400, spike_at=10)
    scores = _run(rows)
    assert scores[: EnsembleConfig().warmup] == [0.0] * EnsembleConfig().warmup


def test_scores_in_unit_interval() -> None:
    rows = _series(3000, spike_at=2000)
    rows += [(1e9, rows[-1][1] + STEP), (-1e9, rows[-1][1] + 2 * STEP), (0.0, rows[-1][1] + 3 * STEP)]
    assert all(0.0 <= s <= 1.0 for s in _run(rows))


def test_deterministic() -> None:
    rows = _series(2000, spike_at=1500)
    assert _run(rows) == _run(rows)


def test_causal_prefix_scores_do_not_change() -> None:
    rows = _series(2500, spike_at=2200)
    full = _run(rows)
    assert _run(rows[:1800]) == full[:1800]


def test_spike_scores_high_after_a_quiet_day() -> None:
    rows = _series(3000, spike_at=2500)
    scores = _run(rows)
    assert scores[2500] > 0.5
    assert max(scores[600:2500]) < scores[2500]


def test_score_one_has_no_side_effects() -> None:
    rows = _series(600)
    a, b = default_detector(), default_detector()
    for x, t in rows:
        a.score_one(x, t)
        a.score_one(x + 100, t)
        b.learn_one(x, t)
        a.learn_one(x, t)
    x, t = rows[-1][0] + 80, rows[-1][1] + STEP
    assert a.score_one(x, t) == b.score_one(x, t)


def test_grace_period_damps_after_notify_event() -> None:
    rows = _series(3000, spike_at=2500)
    plain = _run(rows)
    det = EnsembleDetector(EnsembleConfig())
    graced = []
    for i, (x, t) in enumerate(rows):
        if i == 2498:
            det.notify_event("deploy", t)
        graced.append(det.process(x, t))
    assert graced[2500] < plain[2500] * 0.5  # 10 minutes into the 15-minute grace period
    assert graced[:2498] == plain[:2498]


def test_grace_period_ends() -> None:
    rows = _series(3000, spike_at=2600)
    det = default_detector()
    scores = []
    for i, (x, t) in enumerate(rows):
        if i == 2400:
            det.notify_event("remediation", t)
        scores.append(det.process(x, t))
    assert scores[2600] > 0.5


def test_rare_value_inside_the_range_scores_high() -> None:
    """A level the series has not visited for a long time (inside the range seen so far) is surprising."""
    rnd = random.Random(3)
    rows = []
    for i in range(2000):
        t = T0 + i * STEP
        x = (0.0 if i < 300 else 100.0) + rnd.gauss(0, 1)  # 0 early on, then 100 for a long while
        rows.append((x, t))
    rows += [(50.0 + rnd.gauss(0, 1), T0 + (2000 + k) * STEP) for k in range(5)]  # halfway: never seen
    scores = _run(rows)
    assert max(scores[2000:]) >= EnsembleConfig().rare_score
    assert max(scores[900:2000]) < max(scores[2000:])


def test_daily_recurring_spike_scores_below_an_off_schedule_one() -> None:
    """A nightly job's spike (jittering by up to 40 minutes) is explained by yesterday; the same spike at an
    hour it never happened is not."""
    rnd = random.Random(5)
    rows: list[tuple[float, datetime]] = []
    for i in range(8 * 288):
        t = T0 + i * STEP
        rows.append((10.0 + rnd.gauss(0, 0.5), t))
    spike_days = range(8)
    for d in spike_days:
        i = d * 288 + 36 + rnd.randint(-8, 8)  # about 03:00
        rows[i] = (60.0, rows[i][1])
    recurring = 7 * 288 + 36
    rows[recurring] = (60.0, rows[recurring][1])
    off_schedule = 7 * 288 + 180  # 15:00, never seen at that hour
    rows[off_schedule] = (60.0, rows[off_schedule][1])
    scores = _run(rows)
    assert scores[off_schedule] > 0.1
    assert max(scores[recurring - 10 : recurring + 11]) < 0.5 * scores[off_schedule]


def test_likelihood_window_forgets_the_oldest_errors() -> None:
    """The ring buffer keeps exactly the last ``window`` errors: a long history scores as its last window."""
    rnd = random.Random(11)
    errors = [rnd.random() ** 3 for _ in range(1000)]
    long, fresh = ErrorLikelihood(50, 10, 0.01, 5.0), ErrorLikelihood(50, 10, 0.01, 5.0)
    for e in errors:
        long.add(e)
    for e in errors[-50:]:
        fresh.add(e)
    for probe in (0.0, 0.3, 0.9):
        assert math.isclose(long.peek(probe), fresh.peek(probe), rel_tol=1e-9, abs_tol=1e-12)
