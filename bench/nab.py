"""NAB benchmark of the default anomaly detector, beside Numenta HTM scored by the same scorer.

    .venv/bin/python bench/nab.py [--nab ../shared/data/nab]

Runs ``default_detector()`` (one configuration for every file, causal: each score only sees rows up to its
own) over every file of the shared NAB subset, prints points/s, and the normalised NAB score per category and
in total for the three profiles, ours beside HTM (HTM's per-row scores from ``results/numenta``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerting.anomaly import default_detector  # noqa: E402
from alerting.anomaly.nab import PROFILES, NabFile, htm_scores, load_corpus, score_corpus  # noqa: E402


def run_detector(files: list[NabFile]) -> tuple[dict[str, list[float]], float]:
    """Scores per file and points/s (detector time only)."""
    out: dict[str, list[float]] = {}
    elapsed = 0.0
    npoints = 0
    for f in files:
        det = default_detector()
        process = det.process
        t0 = time.perf_counter()
        out[f.key] = [process(x, t) for x, t in zip(f.values, f.timestamps, strict=True)]
        elapsed += time.perf_counter() - t0
        npoints += len(f.values)
    return out, npoints / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--nab", type=Path, default=ROOT.parent / "shared" / "data" / "nab")
    args = ap.parse_args()
    files = load_corpus(args.nab)
    ours, pps = run_detector(files)
    htm = htm_scores(args.nab, files)
    print(f"detector: {sum(len(f.values) for f in files)} points, {pps:,.0f} points/s (one core)")
    cats = sorted({f.category for f in files})
    for p in PROFILES:
        a, b = score_corpus(files, ours, p), score_corpus(files, htm, p)
        ca = a.category_normalized(files, p.fn_weight, p.tp_weight)
        cb = b.category_normalized(files, p.fn_weight, p.tp_weight)
        print(f"\n{p.name}  (threshold ours {a.threshold:.4f}, HTM {b.threshold:.4f})")
        print(f"  {'category':24} {'ours':>8} {'HTM':>8}")
        for c in cats:
            print(f"  {c:24} {ca[c]:8.2f} {cb[c]:8.2f}")
        print(
            f"  {'TOTAL':24} {a.normalized:8.2f} {b.normalized:8.2f}"
            f"   TP/FP/FN ours {a.tp}/{a.fp}/{a.fn}, HTM {b.tp}/{b.fp}/{b.fn}"
        )


if __name__ == "__main__":
    main()
