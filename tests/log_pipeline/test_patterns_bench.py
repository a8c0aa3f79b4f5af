"""bench/patterns.py's scoring and its leave-one-system-out choice (hand-worked figures, no Loghub data)."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

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


def _write_system(root: Path, name: str, rows: list[tuple[str, str]]) -> None:
    d = root / name
    d.mkdir(parents=True)
    with (d / f"{name}_2k.log_structured_corrected.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["LineId", "Content", "EventId", "EventTemplate"])
        for i, (content, event) in enumerate(rows, 1):
            w.writerow([i, content, event, ""])


def test_unseen_systems_are_scored_apart_with_the_setting_chosen_on_the_design_systems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    b = _bench()
    _write_system(tmp_path, "Design", [("open 1", "E1"), ("close 2", "E2")])
    # three lines of one event and one of another: an exact grouping scores GA 1 (a wrong one could not)
    unseen_rows = [
        ("lease 10.0.0.1 renewed for 30 s", "E1"),
        ("lease 10.0.0.2 renewed for 45 s", "E1"),
        ("lease 10.0.0.3 renewed for 60 s", "E1"),
        ("disk sda failed", "E2"),
    ]
    _write_system(tmp_path / "unseen", "Other", unseen_rows)
    _write_system(tmp_path / "unseen", "Design", [("never scored", "E9")])  # a design system is skipped
    unseen = b.load_unseen(tmp_path / "unseen", ["Design"])
    assert list(unseen) == ["Other"]
    b.report_unseen(unseen, (0.8, 2), None)
    out = capsys.readouterr().out
    assert "UNSEEN (never used for design): setting (0.8, 2)" in out
    row = next(line for line in out.splitlines() if line.startswith("Other"))
    assert [float(x) for x in row.split()[1:4]] == [1.0, 1.0, 1.0]  # GA, purity, recall of an exact grouping
    assert row.split()[4] == "2/2"


def test_systems_whose_errors_were_read_are_marked_and_averaged_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    b = _bench()
    _write_system(tmp_path, "OpenStack", [("lease 10.0.0.1 renewed", "E1"), ("disk sda failed", "E1")])
    _write_system(tmp_path, "Fresh", [("lease 10.0.0.1 renewed", "E1"), ("lease 10.0.0.2 renewed", "E1")])
    assert "OpenStack" in b.DIAGNOSED
    b.report_unseen(b.load_unseen(tmp_path, []), (0.8, 2), None)
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("OpenStack*") for line in out)
    assert any(line.startswith("Fresh ") for line in out)
    means = [line.split() for line in out if line.startswith("mean GA")]
    assert means[0][2] == "0.500"  # both: OpenStack 0 (its one event split in two groups), Fresh 1
    assert means[1][2:] == ["1.000", "over", "the", "1", "never", "read"]
