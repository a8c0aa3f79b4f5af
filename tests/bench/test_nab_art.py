"""bench/_nab_art.py: the ARTime-like pattern memory, a NAB member candidate (the bench is not run in CI)."""

from __future__ import annotations

import math

import numpy as np

from bench._nab_art import ArtMemory, _Dvfa, _haar


def test_haar_is_orthonormal_and_ordered_coarse_to_fine() -> None:
    x = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    h = _haar(x)
    assert len(h) == 8
    assert math.isclose(sum(v * v for v in h), sum(v * v for v in x))  # energy preserved
    assert math.isclose(h[0], sum(x) / math.sqrt(8))  # the approximation first
    assert math.isclose(h[-1], (2.0 - 6.0) / math.sqrt(2))  # the finest detail of the last pair last


def test_dvfa_resonates_with_a_seen_pattern_and_opens_a_cluster_for_a_new_one() -> None:
    art = _Dvfa(4, 0.9)
    a = np.array([0.1, 0.2, 0.1, 0.2])
    b = np.array([0.9, 0.8, 0.9, 0.8])
    art.train(a)  # the first sample only initialises
    first, _, _ = art.train(a)
    assert first == -1  # nothing but the all-ones category yet: a new cluster
    again, match, _ = art.train(a)
    assert again != -1 and match >= 0.9
    new, match_b, _ = art.train(b)
    assert new == -1 and match_b < 0.9
    assert art.clusters == 3


def _scores(values: list[float]) -> list[float]:
    mem = ArtMemory()
    return [mem.process(v) for v in values]


def test_a_new_shape_after_a_long_regular_stretch_scores_and_the_regular_stretch_does_not() -> None:
    regular = [math.sin(2 * math.pi * i / 48) for i in range(2400)]
    broken = regular[:2000] + [3.0] * 60 + regular[2060:]
    calm = _scores(regular)
    hit = _scores(broken)
    warm = ArtMemory.STEP * ArtMemory.TRAIN
    assert all(s == 0.0 for s in hit[:warm])  # nothing while the first windows are learnt
    assert max(hit[2000:2080]) > 0.0
    assert max(calm[2000:2080]) == 0.0


def test_scores_are_causal_a_prefix_scores_the_same_whatever_follows() -> None:
    rng = np.random.default_rng(7)
    values = [float(v) for v in np.cumsum(rng.normal(size=1500))]
    full = _scores(values)
    assert _scores(values[:1100]) == full[:1100]
    assert all(0.0 <= s <= 1.0 for s in full)
