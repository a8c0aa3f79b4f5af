"""Leave-one-category-out scoring: the threshold and configuration come from the other categories only."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from alerting.anomaly.crossval import leave_one_category_out
from alerting.anomaly.nab import PROFILES, NabFile, score_at_threshold, score_corpus

STD = PROFILES[0]
T0 = datetime(2024, 1, 1)


def _file(key: str, n: int, windows: tuple[tuple[int, int], ...]) -> NabFile:
    times = tuple(T0 + timedelta(minutes=5 * i) for i in range(n))
    return NabFile(key, times, tuple(0.0 for _ in range(n)), windows)


@pytest.fixture(scope="module")
def corpus() -> list[NabFile]:
    # 1000 rows: probation 150; one window per file
    return [
        _file("a/1.csv", 1000, ((400, 450),)),
        _file("a/2.csv", 1000, ((600, 650),)),
        _file("b/1.csv", 1000, ((500, 550),)),
        _file("c/1.csv", 1000, ()),
    ]


def _scores(corpus: list[NabFile], level: dict[str, float]) -> dict[str, list[float]]:
    """Per file: its level at the first row of its window, 0.1 elsewhere, 0.3 at row 300 (a false alarm)."""
    out: dict[str, list[float]] = {}
    for f in corpus:
        s = [0.1] * len(f.values)
        s[300] = 0.3
        for left, _ in f.windows:
            s[left] = level[f.category]
        out[f.key] = s
    return out


def test_threshold_comes_from_the_other_categories(corpus: list[NabFile]) -> None:
    # category b's anomaly only reaches 0.2: in sample its own threshold would catch it, out of sample the
    # others' threshold (0.9, above their false positive at 0.3) misses it
    scores = _scores(corpus, {"a": 0.9, "b": 0.2})
    res = leave_one_category_out(corpus, {"only": scores}, STD)
    by_cat = {fold.category: fold for fold in res.folds}
    assert by_cat["b"].threshold == 0.9
    assert (by_cat["b"].held_out.tp, by_cat["b"].held_out.fn) == (0, 1)
    # held out, a is scored at b's threshold 0.2 (the best cut on b alone): its 0.3 false positives count
    assert by_cat["a"].threshold == 0.2
    assert by_cat["a"].held_out.fp == 2
    assert res.normalized < score_corpus(corpus, scores, STD).normalized
    pooled_raw = sum(fold.held_out.raw for fold in res.folds)
    assert res.normalized == pytest.approx(100.0 * (pooled_raw + 3) / 6)


def test_configuration_chosen_per_fold_and_ties_go_to_the_first(corpus: list[NabFile]) -> None:
    good = _scores(corpus, {"a": 0.9, "b": 0.9})
    bad = {k: [0.0] * len(v) for k, v in good.items()}
    res = leave_one_category_out(corpus, {"bad": bad, "good": good}, STD)
    assert {fold.config for fold in res.folds if fold.category != "c"} == {"good"}
    tie = leave_one_category_out(corpus, {"first": good, "second": dict(good)}, STD)
    assert {fold.config for fold in tie.folds} == {"first"}


def test_category_without_windows_scores_its_penalties(corpus: list[NabFile]) -> None:
    scores = _scores(corpus, {"a": 0.9, "b": 0.9})
    held = score_at_threshold([corpus[3]], scores, STD, 0.25)
    assert held.windows == 0 and held.fp == 1
    assert held.normalized == held.raw < 0.0


def test_needs_configurations_and_categories(corpus: list[NabFile]) -> None:
    with pytest.raises(ValueError, match="no configurations"):
        leave_one_category_out(corpus, {}, STD)
    with pytest.raises(ValueError, match="two categories"):
        leave_one_category_out(corpus[:2], {"x": _scores(corpus, {"a": 0.9, "b": 0.9})}, STD)
