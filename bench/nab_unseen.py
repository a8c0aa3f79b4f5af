"""NAB files never used for design: ``bench/nab.py --unseen DIR`` (issue 17).

``DIR`` is a NAB checkout or extract laid out as NAB is (``data/``, ``labels/combined_windows.json``,
``results/<detector>/<category>/<detector>_<file>``). The *unseen* files are the CSV files under ``DIR/data``
whose relative path is not one of the shared subset's (``--nab``, the 34 files the detector was designed and
tuned on). Nothing is chosen on them:

* ours runs as shipped (:func:`alerting.anomaly.default_detector`, one fresh detector per file, each file in a
  process of its own, causal: a score sees only its own and earlier rows); its NAB threshold per profile is
  the one NAB's optimiser picks on the 34 shared files;
* every published detector under ``DIR/results`` whose per-row ``anomaly_score`` the scorer can read for all
  files (Numenta HTM, ARTime, CAD OSE, ...) gets its threshold the same way, on the shared files; each
  one's own best threshold on the unseen files is printed beside it, labelled *in sample*;
* the unseen files are scored with :mod:`alerting.anomaly.nab` (standard profile first, then low FP / low FN),
  per category and pooled, normalised over the unseen windows as NAB normalises a corpus.

Use it once: each look at the unseen figures is a chance to fit the design to them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from alerting.anomaly import default_detector
from alerting.anomaly.nab import (
    PROFILES,
    CorpusScore,
    NabFile,
    Profile,
    load_corpus,
    read_scores,
    score_at_threshold,
    score_corpus,
)

Run = dict[str, list[float]]
# the peers of the issue first, the rest of results/ in name order after them
FIRST_PEERS = ("numenta", "ARTime", "contextOSE")


def data_keys(root: Path) -> set[str]:
    """Relative paths (``category/name.csv``) of the CSV files under ``root/data``."""
    data = root / "data"
    return {p.relative_to(data).as_posix() for p in data.rglob("*.csv")}


def split_corpus(root: Path, shared_keys: set[str]) -> tuple[list[NabFile], list[NabFile]]:
    """The files of ``root`` in the shared subset and the others (unseen), each in label order."""
    files = load_corpus(root)
    labelled = {f.key for f in files}
    unlabelled = sorted(data_keys(root) - labelled)
    if unlabelled:
        raise ValueError(f"data files without labels in {root}: {unlabelled}")
    missing = sorted(shared_keys - labelled)
    if missing:
        raise ValueError(f"shared files missing from {root}: {missing}")
    return [f for f in files if f.key in shared_keys], [f for f in files if f.key not in shared_keys]


@dataclass(frozen=True, slots=True)
class FileRun:
    key: str
    scores: list[float]
    cpu_s: float  # detector CPU time, this process
    pid: int


def score_file(f: NabFile) -> FileRun:
    """The shipped detector over one file, fresh and causal (each score before the row is learnt)."""
    process = default_detector().process
    t0 = time.process_time()  # CPU time: the wall clock of a shared machine measures its load
    scores = [process(x, t) for x, t in zip(f.values, f.timestamps, strict=True)]
    return FileRun(f.key, scores, time.process_time() - t0, os.getpid())


def run_files(files: Sequence[NabFile], jobs: int) -> list[FileRun]:
    """Score every file in a process of its own (``max_tasks_per_child=1``), ``jobs`` at a time."""
    with ProcessPoolExecutor(max_workers=max(1, jobs), max_tasks_per_child=1) as pool:
        return list(pool.map(score_file, files))


def published_detectors(root: Path, files: Sequence[NabFile]) -> tuple[dict[str, Run], list[str]]:
    """Per-row scores of every ``root/results/<detector>`` readable for all ``files``; the others' names."""
    results = root / "results"
    names = sorted(p.name for p in results.iterdir() if p.is_dir()) if results.is_dir() else []
    names.sort(key=lambda n: (FIRST_PEERS.index(n) if n in FIRST_PEERS else len(FIRST_PEERS), n))
    runs: dict[str, Run] = {}
    skipped: list[str] = []
    for name in names:
        try:
            run = {f.key: _published(results / name, name, f) for f in files}
        except (OSError, KeyError, ValueError):
            skipped.append(name)
            continue
        runs[name] = run
    return runs, skipped


def _published(folder: Path, name: str, f: NabFile) -> list[float]:
    cat, base = f.key.split("/", 1)
    scores = read_scores(folder / cat / f"{name}_{base}")
    if len(scores) != len(f.values):
        raise ValueError(f"{name}: {len(scores)} rows for {f.key}'s {len(f.values)}")
    return scores


@dataclass(frozen=True, slots=True)
class ProfileResult:
    profile: Profile
    shared: CorpusScore  # in sample on the shared files: where the threshold comes from
    unseen: CorpusScore  # the unseen files at that threshold: the result
    categories: dict[str, float]  # per unseen category, normalised over its own windows
    oracle: CorpusScore  # the unseen files at their own best threshold (in sample, a reference)


@dataclass(frozen=True, slots=True)
class Judged:
    name: str
    profiles: tuple[ProfileResult, ...]


def judge(
    name: str,
    shared: Sequence[NabFile],
    shared_scores: Mapping[str, Sequence[float]],
    unseen: Sequence[NabFile],
    unseen_scores: Mapping[str, Sequence[float]],
) -> Judged:
    """Thresholds chosen on ``shared`` only, applied unchanged to ``unseen``, for every NAB profile."""
    out: list[ProfileResult] = []
    for p in PROFILES:
        chosen = score_corpus(shared, shared_scores, p)
        held = score_at_threshold(unseen, unseen_scores, p, chosen.threshold)
        cats = held.category_normalized(unseen, p.fn_weight, p.tp_weight)
        out.append(ProfileResult(p, chosen, held, cats, score_corpus(unseen, unseen_scores, p)))
    return Judged(name, tuple(out))


def _judge_args(args: tuple[str, list[NabFile], Run, list[NabFile], Run]) -> Judged:
    return judge(*args)


def judge_all(
    runs: Mapping[str, tuple[Run, Run]], shared: list[NabFile], unseen: list[NabFile], jobs: int
) -> list[Judged]:
    """:func:`judge` for every detector (``name -> (shared scores, unseen scores)``), in ``runs`` order."""
    work = [(name, shared, s, unseen, u) for name, (s, u) in runs.items()]
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(_judge_args, work))


def _print_standard(judged: Sequence[Judged], cats: Sequence[str]) -> None:
    std = PROFILES[0].name
    windows = judged[0].profiles[0].unseen.windows
    print(f"\n=== UNSEEN FILES ({windows} windows), {std} profile: threshold from the shared files only ===")
    head = f"  {'detector':22} {'thr(shared)':>11} {'UNSEEN':>8}" + "".join(f" {c[:16]:>16}" for c in cats)
    print(head + f" {'TP/FP/FN':>11} {'shared in-sample':>17} {'unseen oracle (in sample)':>26}")
    for j in judged:
        r = j.profiles[0]
        per_cat = "".join(f" {r.categories[c]:16.2f}" for c in cats)
        tpfpfn = f"{r.unseen.tp}/{r.unseen.fp}/{r.unseen.fn}"
        oracle = f"{r.oracle.normalized:.2f} @ {r.oracle.threshold:.4f}"
        print(
            f"  {j.name:22} {r.shared.threshold:11.4f} {r.unseen.normalized:8.2f}{per_cat} {tpfpfn:>11}"
            f" {r.shared.normalized:17.2f} {oracle:>26}"
        )


def _print_other_profiles(judged: Sequence[Judged]) -> None:
    for k, p in enumerate(PROFILES[1:], start=1):
        print(f"\n--- {p.name}: threshold chosen on the shared files (unseen oracle: in sample) ---")
        print(f"  {'detector':22} {'thr(shared)':>11} {'UNSEEN':>8} {'TP/FP/FN':>11} {'unseen oracle':>14}")
        for j in judged:
            r = j.profiles[k]
            tpfpfn = f"{r.unseen.tp}/{r.unseen.fp}/{r.unseen.fn}"
            print(
                f"  {j.name:22} {r.shared.threshold:11.4f} {r.unseen.normalized:8.2f} {tpfpfn:>11}"
                f" {r.oracle.normalized:14.2f}"
            )


def _ours(shared: list[NabFile], unseen: list[NabFile], jobs: int) -> tuple[Run, Run]:
    shared_runs = run_files(shared, jobs)
    unseen_runs = run_files(unseen, jobs)
    cpu = sum(r.cpu_s for r in unseen_runs)
    points = sum(len(r.scores) for r in unseen_runs)
    procs = len({r.pid for r in shared_runs + unseen_runs})
    print(
        f"ours (default configuration, as shipped): {points} unseen points in {cpu:.2f} CPU-s = "
        f"{points / cpu:,.0f} points/CPU-s; {procs} processes for {len(shared) + len(unseen)} files"
    )
    return {r.key: r.scores for r in shared_runs}, {r.key: r.scores for r in unseen_runs}


def run_unseen(root: Path, shared_root: Path, jobs: int) -> list[Judged]:
    """The whole measurement; prints it and returns the judged detectors (ours first)."""
    shared_ref = load_corpus(shared_root)
    shared, unseen = split_corpus(root, {f.key for f in shared_ref})
    if shared != shared_ref:
        raise ValueError(f"the shared files in {root} differ from {shared_root}")
    if not unseen:
        raise ValueError(f"no files in {root}/data outside the shared subset")
    cats = sorted({f.category for f in unseen})
    print(f"unseen: {len(unseen)} files in {len(cats)} categories ({', '.join(cats)})")
    print(f"shared (thresholds chosen here): {len(shared)} files from {shared_root}")
    runs: dict[str, tuple[Run, Run]] = {"ours": _ours(shared, unseen, jobs)}
    peers, skipped = published_detectors(root, shared + unseen)
    for name, run in peers.items():
        runs[name] = ({f.key: run[f.key] for f in shared}, {f.key: run[f.key] for f in unseen})
    if skipped:
        print(f"results/ not readable for every file (left out): {', '.join(skipped)}")
    judged = judge_all(runs, shared, unseen, jobs)
    _print_standard(judged, cats)
    _print_other_profiles(judged)
    return judged
