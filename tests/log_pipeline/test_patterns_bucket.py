"""A large bucket of the miner is searched over a matrix of token ids (issue 11: CPU per hostile line), and
that search picks the pattern the one-at-a-time Python search picks, so pattern ids do not change."""

from __future__ import annotations

import csv
import random
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from log_pipeline.patterns import _bucket, _tokens
from log_pipeline.patterns._miner import MinerConfig, TemplateMiner
from tests.conftest import SHARED

_LETTERS = "bcdfghjklnpqrstvwxz"  # no digit, no vowel: never a value, unit or date word


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_LETTERS) for _ in range(5))


def _hostile(rng: random.Random, tokens: int) -> str:
    """A line of distinct words in the bucket of ``hx qz``: it matches no pattern there and creates one."""
    return " ".join(["hx", "qz", *(_word(rng) for _ in range(tokens - 2))])


def test_a_line_in_a_full_bucket_costs_well_under_a_millisecond_of_cpu() -> None:
    # 2,000 patterns of 100 tokens in one bucket (about what the default byte bound allows): the Python
    # search compared each new line with each pattern to the end, ~8 ms of CPU per line on the machine
    # this was written on; over the matrix ~0.5 ms. CPU time of this process, so other jobs barely matter.
    rng = random.Random(1)
    miner = TemplateMiner(MinerConfig())
    for _ in range(2000):
        miner.mine(_hostile(rng, 100))
    assert len(miner) == 2000
    lines = [_hostile(rng, 100) for _ in range(40)]
    start = time.process_time()
    for text in lines:
        miner.mine(text)
    per_line = (time.process_time() - start) / len(lines)
    assert per_line < 0.003


def _generated(seed: int, n: int) -> Iterator[str]:
    """Lines of few prefixes and small vocabularies, with values and punctuation: big buckets whose
    patterns tie, merge, join one-off and miss."""
    rng = random.Random(seed)
    vocab = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"]
    for _ in range(n):
        words = [rng.choice(("worker", "cache")), rng.choice(("started", "miss", "x"))]
        for _ in range(rng.choice((4, 6, 10)) - 2):
            r = rng.random()
            if r < 0.15:
                words.append(str(rng.randrange(100)))
            elif r < 0.3:
                words.append(rng.choice(("key=val", "a:", "(x)", "[y]", ",", "<*>")))
            else:
                words.append(rng.choice(vocab[: rng.choice((2, 4, 8))]))
        yield " ".join(words)


def _ids(
    lines: list[str], small: int, monkeypatch: pytest.MonkeyPatch, max_patterns: int = 10_000
) -> list[str]:
    monkeypatch.setattr(_bucket, "SMALL", small)
    miner = TemplateMiner(MinerConfig(max_patterns=max_patterns))
    return [miner.mine(text)[0] for text in lines]


@pytest.mark.parametrize("max_patterns", [50, 10_000])
def test_the_matrix_search_gives_the_python_searchs_ids(
    monkeypatch: pytest.MonkeyPatch, max_patterns: int
) -> None:
    lines = list(_generated(3, 6000))
    python = _ids(lines, 1 << 30, monkeypatch, max_patterns=max_patterns)
    matrix = _ids(lines, 0, monkeypatch, max_patterns=max_patterns)  # every bucket over its matrix
    assert len(set(python)) > 100  # many patterns, so the comparison covers merges and misses
    assert matrix == python


def test_hash_collisions_do_not_change_the_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    # tokens of one length share a hash here: the matrix overrates patterns, and its pick is checked
    lines = list(_generated(5, 3000))
    python = _ids(lines, 1 << 30, monkeypatch)
    monkeypatch.setattr(_bucket, "_hash", len)
    assert _ids(lines, 0, monkeypatch) == python


def test_a_bucket_switches_to_its_matrix_and_keeps_its_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    # SMALL as shipped: buckets cross it while mining, with evictions (max_patterns) moving columns
    lines = list(_generated(4, 6000))
    assert _ids(lines, _bucket.SMALL, monkeypatch, max_patterns=300) == _ids(
        lines, 1 << 30, monkeypatch, max_patterns=300
    )


LOGHUB = SHARED / "data" / "loghub" / "loghub_2k_corrected"


@pytest.mark.reference_data
@pytest.mark.parametrize(
    "system", ["Apache", "BGL", "HDFS", "HPC", "Hadoop", "OpenSSH", "Spark", "Zookeeper"]
)
def test_loghub_ids_do_not_depend_on_the_search(monkeypatch: pytest.MonkeyPatch, system: str) -> None:
    with (LOGHUB / system / f"{system}_2k.log_structured_corrected.csv").open(newline="") as f:
        lines = [r["Content"] for r in csv.DictReader(f)]
    assert _ids(lines, 0, monkeypatch) == _ids(lines, 1 << 30, monkeypatch)


def test_a_bucket_with_a_matrix_stays_within_max_bytes() -> None:
    # the matrices are charged to the patterns' half of the bound: one bucket of ever new patterns
    budget = 4 * 1024 * 1024
    miner = TemplateMiner(MinerConfig(max_bytes=budget))
    rng = random.Random(2)
    tracemalloc.start()
    try:
        for _ in range(3000):
            miner.mine(_hostile(rng, 40))
            assert miner.memory_bytes() <= budget + 64 * 1024
        # the tokeniser's own caches (bounded apart, ~10 MB of such words) are not the miner's
        _tokens._CACHE.clear()
        _tokens._MEMO.shapes.clear()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(miner) > _bucket.SMALL  # the bucket has its matrix
    assert held < 2 * budget
