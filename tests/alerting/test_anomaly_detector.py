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
