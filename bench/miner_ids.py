"""Pattern ids line by line, to compare two versions of the miner (differential test; issue 11).

Run it in two checkouts and diff the outputs: every line prints ``stream<TAB>line number<TAB>pattern id``.
Streams: each Loghub-2k ``Content`` column (corrected set) mined alone with the default settings; the same
eight files interleaved line by line through one miner with a table of ``--small-table`` patterns (many
evictions and buckets of every size); and generated lines (:func:`generated`) mixed with Loghub lines, whose
buckets grow past the size at which a bucket is searched over its matrix.

    .venv/bin/python bench/miner_ids.py [--data DIR] > ids.tsv
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from log_pipeline.patterns import MinerConfig, TemplateMiner  # noqa: E402

SYSTEMS = ("Apache", "BGL", "HDFS", "HPC", "Hadoop", "OpenSSH", "Spark", "Zookeeper")


def contents(data: Path, system: str) -> list[str]:
    path = data / system / f"{system}_2k.log_structured_corrected.csv"
    with path.open(newline="", encoding="utf-8") as f:
        return [r["Content"] for r in csv.DictReader(f)]


def generated(seed: int, n: int) -> Iterator[str]:
    """Lines of a few fixed prefixes (so they share buckets) whose other words come from small vocabularies,
    with punctuation, values and repeats: many patterns per bucket, merges, one-off joins and misses."""
    rng = random.Random(seed)
    vocab = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa"]
    heads = [("worker", "started"), ("cache", "miss"), ("user", "login"), ("job", "failed")]
    for _ in range(n):
        head = rng.choice(heads)
        width = rng.choice((6, 8, 12))
        words = [*head]
        for _ in range(width - 2):
            r = rng.random()
            if r < 0.15:
                words.append(str(rng.randrange(1000)))
            elif r < 0.25:
                words.append(rng.choice(("key=val", "a:", "(x)", "[y]")))
            else:
                words.append(rng.choice(vocab[: rng.choice((3, 10))]))
        yield " ".join(words)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data", type=Path, default=REPO.parent.parent / "shared/data/loghub/loghub_2k_corrected"
    )
    ap.add_argument("--small-table", type=int, default=200)
    ap.add_argument("--generated", type=int, default=20_000)
    args = ap.parse_args()
    if not args.data.is_dir():
        args.data = Path("/work/shared/data/loghub/loghub_2k_corrected")
    files = {s: contents(args.data, s) for s in SYSTEMS}
    out = sys.stdout
    for system, lines in files.items():
        miner = TemplateMiner(MinerConfig())
        for i, text in enumerate(lines):
            out.write(f"{system}\t{i}\t{miner.mine(text)[0]}\n")
    small = TemplateMiner(MinerConfig(max_patterns=args.small_table))
    for i, row in enumerate(zip_longest(*files.values(), fillvalue="")):
        for text in row:
            out.write(f"interleaved\t{i}\t{small.mine(text)[0]}\n")
    for seed in range(3):
        miner = TemplateMiner(MinerConfig(max_patterns=5_000 if seed else 300))
        loghub = [t for lines in files.values() for t in lines]
        for i, text in enumerate(generated(seed, args.generated)):
            out.write(f"generated{seed}\t{i}\t{miner.mine(text)[0]}\n")
            out.write(f"generated{seed}+\t{i}\t{miner.mine(loghub[i % len(loghub)])[0]}\n")


if __name__ == "__main__":
    main()
