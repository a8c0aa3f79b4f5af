"""CPU per search of one miner bucket, in Python and over its matrix, by patterns x tokens (issue 11).

Where the matrix starts to pay decides ``log_pipeline.patterns._bucket.MIN_PATTERNS`` and ``MIN_WORK``: the
same bucket (distinct random words after ``hx qz``) is built twice, once never given a matrix and once
given one from its first pattern, and ``Bucket.best`` is timed on lines that match no pattern (every
pattern compared to the end) with ``time.process_time`` (CPU of this process), best of ``--repeat``.

    .venv/bin/python bench/miner_crossover.py [--widths 10,30,100,200,1000,4095] [--patterns 2,4,8,24,96,400]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from log_pipeline.patterns import _bucket

_LETTERS = "bcdfghjklnpqrstvwxz"


def tokens(rng: random.Random, width: int) -> tuple[str, ...]:
    return ("hx", "qz", *("".join(rng.choice(_LETTERS) for _ in range(5)) for _ in range(width - 2)))


def build(rng: random.Random, n: int, width: int, matrix: bool) -> _bucket.Bucket:
    saved = _bucket.MIN_PATTERNS, _bucket.MIN_WORK
    _bucket.MIN_PATTERNS = _bucket.MIN_WORK = 0 if matrix else 1 << 30
    try:
        bucket = _bucket.Bucket()
        for i in range(n):
            bucket.add(_bucket.Pattern(str(i), list(tokens(rng, width)), ("",) * width, (width, "hx")))
    finally:
        _bucket.MIN_PATTERNS, _bucket.MIN_WORK = saved
    return bucket


def per_search(bucket: _bucket.Bucket, lines: list[tuple[str, ...]], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for line in lines:
            bucket.best(line)
        best = min(best, (time.process_time() - start) / len(lines))
    return best * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widths", default="10,30,100,200,1000,4095")
    ap.add_argument("--patterns", default="2,4,8,24,96,400")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(1)
    print(f"{'tokens':>6} {'patterns':>8} {'work':>8} {'python us':>10} {'matrix us':>10}")
    for width in (int(w) for w in args.widths.split(",")):
        for n in (int(p) for p in args.patterns.split(",")):
            lines = [tokens(rng, width) for _ in range(max(5, 2000 // width))]
            python, matrix = build(rng, n, width, False), build(rng, n, width, True)
            if python._ids is not None or matrix._ids is None:
                raise SystemExit("the buckets were not built as asked")
            print(
                f"{width:>6} {n:>8} {n * width:>8} {per_search(python, lines, args.repeat):>10.1f}"
                f" {per_search(matrix, lines, args.repeat):>10.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
