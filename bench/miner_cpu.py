"""Lines per CPU second of ``paramedic patterns`` (its ``mine_lines``, in process) on log files.

CPU time of this process (``time.process_time``) over mining every file once with a fresh miner each, the
import and the file reads excluded: on a shared machine wall-clock time measures the other jobs. To compare
two checkouts, alternate them (``--repo`` points at the checkout whose code is imported)::

    for i in 1 2 3; do for r in /tmp/main-checkout .; do
        .venv/bin/python bench/miner_cpu.py --repo $r /work/shared/data/loghub/*/*_2k.log; done; done
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    ap.add_argument("--rounds", type=int, default=3, help="mine the files this many times; best is printed")
    ap.add_argument("files", type=Path, nargs="+")
    args = ap.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    from paramedic.commands.patterns import mine_lines

    data = [f.read_bytes().splitlines(keepends=True) for f in args.files]
    lines = sum(map(len, data))
    best = float("inf")
    for _ in range(args.rounds):
        start = time.process_time()
        for file_lines in data:
            mine_lines(file_lines, io.StringIO())
        best = min(best, time.process_time() - start)
    print(f"{args.repo}\t{lines} lines\t{best:.3f} s CPU\t{lines / best:,.0f} lines/CPU-s")


if __name__ == "__main__":
    main()
