"""NAB benchmark of the default anomaly detector, judged out of sample (leave one category out).

    .venv/bin/python bench/nab.py [--nab ../shared/data/nab] [--jobs 2] [--no-grid] [--grid KEY=V1,V2 ...]
    .venv/bin/python bench/nab.py --sweep KEY=V1,V2 ... [--jobs 2]
    .venv/bin/python bench/nab.py --unseen DIR [--nab ../shared/data/nab] [--jobs 2]

(``PARAMEDIC_SHARED=/path/to/shared`` when the repository does not sit beside ``shared``.)

Headline: the **leave-one-category-out** NAB score (standard profile). For each category of the shared NAB
subset, the configuration (from :data:`GRID`, the parameters that used to be tuned on the whole corpus) *and*
the NAB threshold are chosen on the other categories alone, and the held-out category is scored with them;
the held-out raw scores of all folds are pooled and normalised over all windows, as NAB normalises a corpus.
Numenta HTM (its per-row scores from ``results/numenta``) is cross-validated the same way (threshold only).

Below it, labelled *in sample*: the default configuration with the threshold optimised on all 34 files
(what NAB's own runner does), per category and for the three profiles, beside HTM scored by the same scorer.
Every detector run is causal (each score sees only rows up to its own) and one configuration per run.

``--sweep KEY=V1,V2 ...``: the candidates are the default and every listed value *alone* (one setting changed
at a time, no product: many dimensions stay cheap), the built-in grid left out; each candidate's own
out-of-sample figure is printed too, then the headline with the choice made in the folds.

``--unseen DIR`` (a NAB checkout laid out as NAB is): the files of ``DIR/data`` outside the shared subset,
never used for design, scored with the shipped configuration and the thresholds chosen on the 34 shared files,
published detectors beside it the same way (:mod:`bench.nab_unseen`). Use it once.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("PARAMEDIC_SHARED") or ROOT.parent / "shared")

from alerting.anomaly import EnsembleConfig, EnsembleDetector  # noqa: E402
from alerting.anomaly.crossval import LocoResult, leave_one_category_out  # noqa: E402
from alerting.anomaly.nab import (  # noqa: E402
    PROFILES,
    NabFile,
    htm_scores,
    load_corpus,
    score_corpus,
)
from bench.nab_unseen import run_unseen  # noqa: E402

# Chosen inside the training folds: the values around the default of the parameters that were tuned on the
# whole corpus. The default configuration is the first point (ties go to it).
GRID: dict[str, tuple[Any, ...]] = {
    "short_mean": (10, 3),
    "refractory_s": (21600.0, 0.0),
    "spatial_tolerance": (0.06, 0.03),
}

Run = dict[str, list[float]]


def _grid_points(use_grid: bool, extra: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Candidate configurations: :data:`GRID` plus ``KEY=V1,V2`` dimensions (the default first)."""
    if not use_grid:
        return [{}]
    grid = dict(GRID)
    for item in extra:
        key, _, vals = item.partition("=")
        default = getattr(EnsembleConfig(), key)  # AttributeError: not a configuration field
        values = [type(default)(v) for v in vals.split(",")]
        if default in values:  # ties between configurations go to the first: keep the default there
            values.remove(default)
        grid[key] = (default, *values)
    keys = list(grid)
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*grid.values())]


def _sweep_points(items: Sequence[str]) -> list[dict[str, Any]]:
    """The default configuration, then each ``KEY=V`` of ``KEY=V1,V2`` items alone (its default skipped)."""
    points: list[dict[str, Any]] = [{}]
    for item in items:
        key, _, vals = item.partition("=")
        default = getattr(EnsembleConfig(), key)  # AttributeError: not a configuration field
        points += [{key: v} for v in (type(default)(v) for v in vals.split(",")) if v != default]
    return points


def _name(point: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in point.items()) or "default"


def run_config(files: Sequence[NabFile], point: dict[str, Any]) -> tuple[Run, float, int]:
    """Per-file scores of one configuration, detector CPU seconds (this process) and points."""
    cfg = dataclasses.replace(EnsembleConfig(), **point)
    out: Run = {}
    elapsed = 0.0
    npoints = 0
    for f in files:
        process = EnsembleDetector(cfg).process
        t0 = time.process_time()  # CPU time: the wall clock of a shared machine measures its load
        out[f.key] = [process(x, t) for x, t in zip(f.values, f.timestamps, strict=True)]
        elapsed += time.process_time() - t0
        npoints += len(f.values)
    return out, elapsed, npoints


def _print_loco(title: str, res: LocoResult) -> None:
    print(f"\n{title}")
    print(f"  {'held-out category':24} {'score':>8} {'TP/FP/FN':>10} {'threshold':>10}  chosen on the others")
    for fold in res.folds:
        h = fold.held_out
        tpfpfn = f"{h.tp}/{h.fp}/{h.fn}"
        print(
            f"  {fold.category:24} {fold.normalized:8.2f} {tpfpfn:>10} {fold.threshold:10.4f}  {fold.config}"
        )
    print(f"  {'OUT OF SAMPLE (pooled)':24} {res.normalized:8.2f}   ({res.windows} windows)")


def _print_in_sample(files: list[NabFile], ours: Run, htm: Run) -> None:
    cats = sorted({f.category for f in files})
    print(f"\n--- in sample (threshold optimised on all {len(files)} files; design tuned on them too) ---")
    for p in PROFILES:
        a, b = score_corpus(files, ours, p), score_corpus(files, htm, p)
        ca = a.category_normalized(files, p.fn_weight, p.tp_weight)
        cb = b.category_normalized(files, p.fn_weight, p.tp_weight)
        print(f"\n{p.name}  (threshold ours {a.threshold:.4f}, HTM {b.threshold:.4f})")
        print(f"  {'category':24} {'ours':>8} {'HTM':>8}")
        for c in cats:
            print(f"  {c:24} {ca[c]:8.2f} {cb[c]:8.2f}")
        print(
            f"  {'TOTAL in sample':24} {a.normalized:8.2f} {b.normalized:8.2f}"
            f"   TP/FP/FN ours {a.tp}/{a.fp}/{a.fn}, HTM {b.tp}/{b.fp}/{b.fn}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--nab", type=Path, default=SHARED / "data" / "nab")
    ap.add_argument("--jobs", type=int, default=2, help="processes running configurations (default 2)")
    ap.add_argument("--no-grid", action="store_true", help="only the default configuration (faster)")
    ap.add_argument(
        "--grid", nargs="+", default=[], metavar="KEY=V1,V2", help="more candidate values (default first)"
    )
    ap.add_argument(
        "--unseen", type=Path, metavar="DIR", help="score the NAB files of DIR outside the shared subset"
    )
    ap.add_argument(
        "--sweep", nargs="+", default=[], metavar="KEY=V1,V2", help="the default and each value alone"
    )
    args = ap.parse_args(argv)
    if args.unseen is not None:
        run_unseen(args.unseen, args.nab, args.jobs)
        return
    files = load_corpus(args.nab)
    points = _sweep_points(args.sweep) if args.sweep else _grid_points(not args.no_grid, args.grid)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(run_config, [files] * len(points), points))
    runs = {_name(pt): r[0] for pt, r in zip(points, results, strict=True)}
    _, elapsed, npoints = results[0]
    print(
        f"detector: {npoints} points, {npoints / elapsed:,.0f} points/CPU-s (default configuration); "
        f"{len(points)} configurations in {time.perf_counter() - t0:.0f} s"
    )
    std = PROFILES[0]
    if args.sweep:
        print(f"\neach candidate alone ({std.name}; threshold chosen on the other categories):")
        for name, scores in runs.items():
            alone = leave_one_category_out(files, {name: scores}, std)
            cats = " ".join(f"{f.normalized:6.2f}" for f in alone.folds)
            print(f"  {name:32} {alone.normalized:8.2f}   held out: {cats}")
    htm = htm_scores(args.nab, files)
    _print_loco(
        f"=== OUT OF SAMPLE: leave one category out, {std.name} profile ===\n"
        f"ours: configuration ({len(points)} candidates) and threshold chosen on the other categories",
        leave_one_category_out(files, runs, std),
    )
    _print_loco(
        "HTM (threshold chosen on the other categories)", leave_one_category_out(files, {"HTM": htm}, std)
    )
    _print_in_sample(files, runs[_name(points[0])], htm)


if __name__ == "__main__":
    main()
