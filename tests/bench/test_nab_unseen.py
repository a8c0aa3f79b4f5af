"""bench/nab_unseen.py (``bench/nab.py --unseen DIR``): file selection, thresholds from the shared files only,
causal scoring in one fresh process per file, the published peers read from ``results/``."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alerting.anomaly.nab import PROFILES, NabFile, load_corpus, score_at_threshold, score_corpus
from bench.nab_unseen import (
    judge,
    published_detectors,
    run_files,
    run_unseen,
    score_file,
    split_corpus,
)

T0 = datetime(2024, 1, 1)
ROWS = 400  # probation 60
SHARED_KEYS = ("a/s1.csv", "b/s2.csv")
UNSEEN_KEYS = ("c/u1.csv", "c/u2.csv", "d/u3.csv")
WINDOW = (200, 220)


def _series(seed: int) -> list[float]:
    vals = [10.0 + 3.0 * math.sin(i / (7.0 + seed)) for i in range(ROWS)]
    vals[WINDOW[0] + 5] = 80.0 + seed  # a spike inside the labelled window
    return vals


def _write_csv(path: Path, header: str, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "\n".join(rows) + "\n")


def _stamp(i: int) -> str:
    return (T0 + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S")


def _write_file(root: Path, key: str, seed: int) -> None:
    rows = [f"{_stamp(i)},{v}" for i, v in enumerate(_series(seed))]
    _write_csv(root / "data" / key, "timestamp,value", rows)


def _write_result(root: Path, detector: str, key: str, seed: int) -> None:
    cat, base = key.split("/", 1)
    rows = []
    for i, v in enumerate(_series(seed)):
        score = 0.9 if i == WINDOW[0] + 5 else (0.5 if i == 100 + 10 * seed else 0.1)
        rows.append(f"{_stamp(i)},{v},{score},0")
    _write_csv(
        root / "results" / detector / cat / f"{detector}_{base}", "timestamp,value,anomaly_score,label", rows
    )


def _write_tree(root: Path, keys: tuple[str, ...], peers: tuple[str, ...]) -> None:
    labels = {k: [[_stamp(WINDOW[0]) + ".000000", _stamp(WINDOW[1]) + ".000000"]] for k in keys}
    (root / "labels").mkdir(parents=True)
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    for seed, key in enumerate(keys):
        _write_file(root, key, seed)
        for peer in peers:
            _write_result(root, peer, key, seed)


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    """A shared subset (2 files) and a NAB tree holding it plus 3 unseen files, peers in ``results/``."""
    shared, full = tmp_path / "shared", tmp_path / "nab"
    _write_tree(shared, SHARED_KEYS, ("numenta",))
    _write_tree(full, SHARED_KEYS + UNSEEN_KEYS, ("zeta", "ARTime", "numenta"))
    (full / "data" / "README.md").write_text("not a data file")
    (full / "results" / "README.md").write_text("not a detector")
    (full / "results" / "partial" / "c").mkdir(parents=True)  # no file for most keys: not readable
    _write_result(full, "partial", "c/u1.csv", 0)
    return shared, full


def test_unseen_are_the_data_files_outside_the_shared_subset(trees: tuple[Path, Path]) -> None:
    shared_root, full = trees
    keys = {f.key for f in load_corpus(shared_root)}
    shared, unseen = split_corpus(full, keys)
    assert [f.key for f in shared] == list(SHARED_KEYS)
    assert [f.key for f in unseen] == list(UNSEEN_KEYS)


def test_a_data_file_without_labels_is_an_error(trees: tuple[Path, Path]) -> None:
    _, full = trees
    _write_file(full, "c/unlabelled.csv", 9)
    with pytest.raises(ValueError, match="unlabelled"):
        split_corpus(full, set(SHARED_KEYS))


def test_a_shared_file_missing_from_dir_is_an_error(trees: tuple[Path, Path]) -> None:
    _, full = trees
    with pytest.raises(ValueError, match="missing"):
        split_corpus(full, {*SHARED_KEYS, "a/elsewhere.csv"})


def _flat(files: list[NabFile], at_window: float, false_alarm: float) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for f in files:
        s = [0.0] * len(f.values)
        s[100] = false_alarm
        s[f.windows[0][0]] = at_window
        out[f.key] = s
    return out


def test_thresholds_come_from_the_shared_files_only(trees: tuple[Path, Path]) -> None:
    _, full = trees
    shared, unseen = split_corpus(full, set(SHARED_KEYS))
    shared_scores = _flat(shared, 0.9, 0.5)  # the shared optimum is 0.9, above the false alarms
    unseen_scores = _flat(unseen, 0.6, 0.0)  # on the unseen files 0.6 would catch every window
    other_unseen = _flat(unseen, 0.3, 0.95)
    res = judge("x", shared, shared_scores, unseen, unseen_scores)
    again = judge("x", shared, shared_scores, unseen, other_unseen)
    for k, p in enumerate(PROFILES):
        r = res.profiles[k]
        assert r.profile == p
        assert r.shared.threshold == score_corpus(shared, shared_scores, p).threshold == 0.9
        assert again.profiles[k].shared.threshold == 0.9  # nothing on the unseen files moves it
        assert r.unseen == score_at_threshold(unseen, unseen_scores, p, 0.9)
        assert (r.unseen.tp, r.unseen.fn) == (0, 3)  # out of sample: every window missed
        assert (r.oracle.tp, r.oracle.threshold) == (3, 0.6)  # the in-sample reference would catch them
        assert set(r.categories) == {"c", "d"}
    std = res.profiles[0]
    assert std.unseen.normalized == 0.0
    assert std.categories["c"] == 0.0


def test_scoring_is_causal(trees: tuple[Path, Path]) -> None:
    _, full = trees
    f = load_corpus(full)[0]
    cut = NabFile(f.key, f.timestamps[:250], f.values[:250], ())
    assert score_file(cut).scores == score_file(f).scores[:250]
    assert max(score_file(f).scores) > 0.0  # the spike is scored (the test is not of an all-zero output)


def test_one_fresh_process_per_file(trees: tuple[Path, Path]) -> None:
    _, full = trees
    files = load_corpus(full)
    batch = [files[0], files[2], files[0], files[4]]
    runs = run_files(batch, jobs=2)
    assert [r.key for r in runs] == [f.key for f in batch]
    assert len({r.pid for r in runs}) == len(batch)
    for f, r in zip(batch, runs, strict=True):
        assert r.scores == score_file(f).scores  # no state carried from a file scored before it
        assert r.cpu_s > 0.0


def test_published_detectors_readable_for_every_file(trees: tuple[Path, Path]) -> None:
    _, full = trees
    files = load_corpus(full)
    runs, skipped = published_detectors(full, files)
    assert list(runs) == ["numenta", "ARTime", "zeta"]  # the peers first
    assert skipped == ["partial"]
    assert runs["ARTime"]["c/u1.csv"][WINDOW[0] + 5] == 0.9
    assert len(runs["zeta"]["d/u3.csv"]) == ROWS


def test_run_unseen_end_to_end(trees: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    shared_root, full = trees
    judged = run_unseen(full, shared_root, jobs=2)
    assert [j.name for j in judged] == ["ours", "numenta", "ARTime", "zeta"]
    art = judged[2].profiles[0]
    # ARTime's threshold comes from its shared files (false alarms at 0.5 there, window peaks at 0.9)
    assert art.shared.threshold == 0.9
    assert (art.unseen.tp, art.unseen.fp, art.unseen.fn) == (3, 0, 0)
    out = capsys.readouterr().out
    assert "UNSEEN FILES (3 windows), standard profile" in out
    assert "left out): partial" in out
    assert "points/CPU-s; 5 processes for 5 files" in out


def test_run_unseen_refuses_a_tree_whose_shared_files_differ(trees: tuple[Path, Path]) -> None:
    shared_root, full = trees
    _write_file(full, SHARED_KEYS[0], 7)
    with pytest.raises(ValueError, match="differ"):
        run_unseen(full, shared_root, jobs=1)
