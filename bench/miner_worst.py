"""CPU per hostile line of the log pattern miner (issue 11: no single request may starve the server).

A syslog sender controls the lines. The costly ones miss the exact cache and land in a full bucket (same
token count, same first two tokens), where the miner compares them with the bucket's patterns. The bucket is
filled with ``--patterns`` distinct lines of as many tokens as the byte bound (``MinerConfig.max_bytes``)
lets that many patterns hold (longer patterns cost more per comparison, and the bound is what limits
patterns x tokens), then ``--lines`` hostile lines of each construction are mined and timed with
``time.process_time`` (CPU of this process, so other jobs on the machine do not inflate it):

* ``new``: a fresh line of distinct words, same punctuation as every pattern: it is compared with every
  pattern to the end and creates one more (evicting the least recently used when the table is full);
* ``near``: the last pattern created with one word changed: compared with every pattern, joins that one
  (a template merge);
* ``punct``: like ``new`` with a ``:`` where every pattern has a word: the punctuation check never cuts a
  comparison short;
* ``exact``: a line already mined (an exact-cache hit: one dictionary lookup of its token tuple);
* ``dead``: a line whose exact-cache entry points at an evicted pattern (mined again from scratch).

    .venv/bin/python bench/miner_worst.py [--patterns 100,1000,2200,10000] [--widest 24] [--lines 30]
        [--repeat 3]

``--widest N`` adds a row of N patterns of the widest line mined: 4,096 characters of one-letter words
between colons, 4,095 tokens (tokenising such a line is most of its cost; 0 leaves the row out).

Each figure is the median over ``--repeat`` rounds of (CPU of the round's lines / lines), in microseconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from log_pipeline.patterns import MinerConfig, TemplateMiner

_LETTERS = "bcdfghjklnpqrstvwxz"  # no vowels: never a unit, month or weekday name; no digits: never a value


def word(rng: random.Random) -> str:
    return "".join(rng.choice(_LETTERS) for _ in range(5))


def line(rng: random.Random, tokens: int) -> str:
    """``tokens`` tokens: the fixed prefix ``hx qz`` (one bucket) and distinct random words."""
    if tokens == WIDEST:
        return ("hx:" + ":".join(rng.choice(_LETTERS) for _ in range(2047)))[:4096]
    return " ".join(["hx", "qz", *(word(rng) for _ in range(tokens - 2))])


WIDEST = 4095  # tokens of a 4,096-character line of one-letter words between colons


def tokens_for(patterns: int, cfg: MinerConfig) -> int:
    """Most tokens per line such that ``patterns`` such patterns fit the miner's pattern byte budget and a
    line fits ``max_message_chars`` (measured with the miner's own estimate, not guessed)."""
    lo, hi = 3, cfg.max_message_chars // 6
    budget = cfg.max_bytes // 2
    rng = random.Random(0)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        probe = TemplateMiner(cfg)
        probe.mine(line(rng, mid))
        # the patterns' half of the bound, with a matrix row of ids and flags per pattern, twice (a matrix
        # grows by doubling) in case the miner keeps one, and 2% headroom
        cost = probe._pattern_bytes + 2 * (9 * mid + 16)
        if cost * patterns <= budget * 0.98:
            lo = mid
        else:
            hi = mid - 1
    return lo


def filled(patterns: int, tokens: int, seed: int) -> tuple[TemplateMiner, list[str]]:
    cfg = MinerConfig()
    miner = TemplateMiner(cfg)
    rng = random.Random(seed)
    lines = [line(rng, tokens) for _ in range(patterns)]
    for text in lines:
        miner.mine(text)
    if len(miner) != patterns:
        raise SystemExit(f"bucket holds {len(miner)} patterns, wanted {patterns}")
    return miner, lines


def cpu_per_line(mine: Callable[[str], object], lines: list[str]) -> float:
    start = time.process_time()
    for text in lines:
        mine(text)
    return (time.process_time() - start) / len(lines) * 1e6


def round_of(patterns: int, tokens: int, n: int, seed: int) -> dict[str, float]:
    miner, seen = filled(patterns, tokens, seed)
    rng = random.Random(seed + 1)
    out: dict[str, float] = {}
    out["exact"] = cpu_per_line(miner.mine, seen[-n:])
    sep = ":" if tokens == WIDEST else " "
    near = []
    for text in seen[-n:]:
        words = text.split(sep)
        new = word(rng)
        last = len(words) - 1 if words[-1] else len(words) - 2  # a widest line ends with a colon
        words[rng.randrange(2, last + 1)] = new[:1] if tokens == WIDEST else new
        near.append(sep.join(words))
    out["near"] = cpu_per_line(miner.mine, near)
    punct = []
    for _ in range(n):
        words = line(rng, tokens).split(sep)
        words[-1 if words[-1] else -2] = ":"
        punct.append(sep.join(words))
    out["punct"] = cpu_per_line(miner.mine, punct)
    out["new"] = cpu_per_line(miner.mine, [line(rng, tokens) for _ in range(n)])
    # the first lines mined are the least recently used: by now (after 2n new patterns in a full table)
    # some were evicted while their exact-cache keys remain
    out["dead"] = cpu_per_line(miner.mine, seen[: min(n, patterns)]) if len(miner) >= patterns else 0.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patterns", default="100,1000,2200,10000")
    ap.add_argument("--widest", type=int, default=24)
    ap.add_argument("--lines", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    kinds = ("new", "near", "punct", "dead", "exact")
    print(f"{'patterns':>8} {'tokens':>6} " + " ".join(f"{k + ' us':>10}" for k in kinds))
    rows = [(int(p), tokens_for(int(p), MinerConfig())) for p in args.patterns.split(",")]
    if args.widest:
        rows.append((args.widest, WIDEST))
    for patterns, tokens in rows:
        rounds = [round_of(patterns, tokens, args.lines, seed) for seed in range(args.repeat)]
        med = {k: statistics.median(r[k] for r in rounds) for k in kinds}
        print(f"{patterns:>8} {tokens:>6} " + " ".join(f"{med[k]:>10.0f}" for k in kinds), flush=True)


if __name__ == "__main__":
    main()
