"""Log template mining benchmark: grouping accuracy (GA) on Loghub-2k, ours beside drain3, same run.

For each of the 8 Loghub-2k systems (corrected ground truth, Khan et al. ICSE 2022) the message part
(``Content``, header already stripped, as the pipeline hands it over) is mined online in file order by our
:class:`log_pipeline.patterns.TemplateMiner` and by drain3's ``TemplateMiner`` with default settings.
GA (logparser's "Parsing accuracy"): a message is correct iff the set of messages sharing its predicted id
equals the set sharing its true EventId. Also prints messages/s (mining only, file read excluded, best of
--repeat). Both miners use one configuration for all systems.

    .venv/bin/python bench/patterns.py [--repeat 3] [--errors SYSTEM]

drain3 is a bench-only dependency: ``.venv/bin/pip install drain3``.
Reads ../shared/data/loghub/loghub_2k_corrected relative to the repository.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from log_pipeline.patterns import TemplateMiner  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "loghub" / "loghub_2k_corrected"
SYSTEMS = ("Apache", "BGL", "HDFS", "HPC", "Hadoop", "OpenSSH", "Spark", "Zookeeper")

Miner = Callable[[Sequence[str]], list[str]]


def load(system: str) -> tuple[list[str], list[str]]:
    path = DATA / system / f"{system}_2k.log_structured_corrected.csv"
    if not path.is_file():
        sys.exit(f"bench/patterns.py: missing {path} (expected the Loghub-2k corrected data under {DATA})")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["Content"] for r in rows], [r["EventId"] for r in rows]


def grouping_accuracy(truth: Sequence[str], pred: Sequence[str]) -> float:
    true_groups: dict[str, set[int]] = defaultdict(set)
    pred_groups: dict[str, set[int]] = defaultdict(set)
    for i, (t, p) in enumerate(zip(truth, pred, strict=True)):
        true_groups[t].add(i)
        pred_groups[p].add(i)
    correct = sum(1 for i, t in enumerate(truth) if true_groups[t] == pred_groups[pred[i]])
    return correct / len(truth)


def ours(messages: Sequence[str]) -> list[str]:
    miner = TemplateMiner()
    return [miner.mine(m)[0] for m in messages]


def drain3_default(messages: Sequence[str]) -> list[str]:
    from drain3 import TemplateMiner as Drain3  # type: ignore[import-untyped]

    miner = Drain3()
    return [str(miner.add_log_message(m)["cluster_id"]) for m in messages]


def timed(miner: Miner, messages: Sequence[str], repeat: int) -> tuple[list[str], float]:
    best = float("inf")
    result: list[str] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = miner(messages)
        best = min(best, time.perf_counter() - t0)
    return result, len(messages) / best


def show_errors(system: str) -> None:
    """Print the largest wrongly grouped true groups for one system (a debugging aid)."""
    messages, truth = load(system)
    pred = ours(messages)
    by_true: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(truth):
        by_true[t].append(i)
    by_pred: dict[str, set[int]] = defaultdict(set)
    for i, p in enumerate(pred):
        by_pred[p].add(i)
    miner = TemplateMiner()
    templates = {p: tpl for p, tpl in (miner.mine(m) for m in messages)}
    for t, idx in sorted(by_true.items(), key=lambda kv: -len(kv[1])):
        preds = Counter(pred[i] for i in idx)
        if len(preds) == 1 and by_pred[pred[idx[0]]] == set(idx):
            continue
        print(f"true {t} n={len(idx)} e.g. {messages[idx[0]][:120]!r}")
        for p, n in preds.most_common(4):
            print(f"    pred {p} n={n}/{len(by_pred[p])} {templates[p][:120]!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="timing runs per miner and system (best is kept)")
    ap.add_argument("--no-drain3", action="store_true", help="skip drain3")
    ap.add_argument("--errors", metavar="SYSTEM", help="print our grouping errors for SYSTEM and exit")
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"bench/patterns.py: missing {DATA} (the Loghub-2k corrected ground truth)")
    if args.errors:
        show_errors(args.errors)
        return
    logging.getLogger("drain3").setLevel(logging.WARNING)
    miners: dict[str, Miner] = {"ours": ours}
    if not args.no_drain3:
        try:
            import drain3  # noqa: F401
        except ImportError:
            sys.exit(
                "bench/patterns.py: drain3 is not installed (.venv/bin/pip install drain3); "
                "or run with --no-drain3"
            )
        miners["drain3"] = drain3_default
    ga: dict[str, list[float]] = {name: [] for name in miners}
    total_n = 0
    total_s: dict[str, float] = {name: 0.0 for name in miners}
    header = f"{'system':<10}" + "".join(f"{name + ' GA':>11}{name + ' msg/s':>14}" for name in miners)
    print(header)
    print("-" * len(header))
    for system in SYSTEMS:
        messages, truth = load(system)
        total_n += len(messages)
        row = f"{system:<10}"
        for name, miner in miners.items():
            pred, rate = timed(miner, messages, args.repeat)
            acc = grouping_accuracy(truth, pred)
            ga[name].append(acc)
            total_s[name] += len(messages) / rate
            row += f"{acc:>11.3f}{rate:>14,.0f}"
        print(row)
    print("-" * len(header))
    row = f"{'mean':<10}"
    for name in miners:
        row += f"{sum(ga[name]) / len(ga[name]):>11.3f}{total_n / total_s[name]:>14,.0f}"
    print(row)


if __name__ == "__main__":
    main()
