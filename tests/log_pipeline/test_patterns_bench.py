"""bench/patterns.py's scoring and its leave-one-system-out choice (hand-worked figures, no Loghub data)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.conftest import FIXTURES

BENCH = FIXTURES.parent.parent / "bench" / "patterns.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_patterns", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_patterns"] = module
    spec.loader.exec_module(module)
    return module


def test_scores_are_the_hand_worked_ones() -> None:
    b = _bench()
    # true groups a={0,1} b={2,3} c={4}; predicted 1={0,1,2} 2={3} 3={4}
    s = b.score(["a", "a", "b", "b", "c"], ["1", "1", "1", "2", "3"])
    assert s.ga == 1 / 5  # only line 4's predicted group equals its true group
    assert s.purity == 4 / 5  # majorities: 2 (a in 1) + 1 + 1
    assert s.recall == 4 / 5  # largest pieces: 2 (a) + 1 (b) + 1 (c)
    assert (s.n_pred, s.n_true) == (3, 3)


def test_the_held_out_system_never_chooses_its_own_setting() -> None:
    b = _bench()
    good, bad = b.Scores(1.0, 1.0, 1.0, 1, 1), b.Scores(0.0, 1.0, 0.0, 1, 1)
    # setting X is best for A and B, setting Y only for C: C held out must get X and score 0
    grid = {
        (0.5, 2): {"A": good, "B": good, "C": bad},
        (0.7, 2): {"A": bad, "B": bad, "C": good},
    }
    folds = b.leave_one_out(grid, ["A", "B", "C"])
    assert folds["C"] == ((0.5, 2), bad)  # chosen on A and B; C's own best (0.7, 2) is out of reach
    assert folds["A"] == ((0.5, 2), good)  # B and C tie: the first setting in grid order
    assert b.choose(grid, ["C"]) == (0.7, 2)
