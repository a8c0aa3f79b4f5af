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


def test_a_line_in_a_full_bucket_of_100_token_patterns_costs_under_3_ms_of_cpu() -> None:
    # 2,000 patterns of 100 tokens in one bucket (about what the default byte bound allows): the Python
    # search compared each new line with each pattern to the end, ~8 ms of CPU per line on the machine
    # this was written on; over the matrix ~0.5 ms. CPU time of this process, so other jobs barely matter.
    rng = random.Random(1)
    miner = TemplateMiner(MinerConfig())
    for _ in range(2000):
        miner.mine(_hostile(rng, 100))
    assert len(miner) == 2000
    (bucket,) = miner._buckets.values()
    assert bucket._ids is not None  # searched over its matrix
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


ALWAYS, NEVER, SHIPPED = (
    0,
    1 << 30,
    -1,
)  # when a bucket gets its matrix: from its first pattern, never, as shipped


def _ids(
    lines: list[str], small: int, monkeypatch: pytest.MonkeyPatch, max_patterns: int = 10_000
) -> list[str]:
    if small != SHIPPED:
        monkeypatch.setattr(_bucket, "MIN_PATTERNS", small)
        monkeypatch.setattr(_bucket, "MIN_WORK", small)
    miner = TemplateMiner(MinerConfig(max_patterns=max_patterns))
    return [miner.mine(text)[0] for text in lines]


@pytest.mark.parametrize("max_patterns", [50, 10_000])
def test_the_matrix_search_gives_the_python_searchs_ids(
    monkeypatch: pytest.MonkeyPatch, max_patterns: int
) -> None:
    lines = list(_generated(3, 6000))
    python = _ids(lines, NEVER, monkeypatch, max_patterns=max_patterns)
    matrix = _ids(lines, ALWAYS, monkeypatch, max_patterns=max_patterns)  # every bucket over its matrix
    assert len(set(python)) > 100  # many patterns, so the comparison covers merges and misses
    assert matrix == python


def test_hash_collisions_do_not_change_the_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    # tokens of one length share a hash here: the matrix overrates patterns, and its pick is checked
    lines = list(_generated(5, 3000))
    python = _ids(lines, NEVER, monkeypatch)
    monkeypatch.setattr(_bucket, "_hash", len)
    assert _ids(lines, ALWAYS, monkeypatch) == python


def test_a_bucket_switches_to_its_matrix_and_keeps_its_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    # thresholds as shipped: buckets cross them both ways while mining; evictions move columns
    lines = list(_generated(4, 6000))
    assert _ids(lines, SHIPPED, monkeypatch, max_patterns=300) == _ids(
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
    assert _ids(lines, ALWAYS, monkeypatch) == _ids(lines, NEVER, monkeypatch)


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
    (bucket,) = miner._buckets.values()
    assert bucket._ids is not None  # the bucket has its matrix
    assert held < 2 * budget


def _wide(rng: random.Random) -> str:
    """4,096 characters, 4,095 tokens (one-letter words between colons): the widest line the miner mines."""
    return ("hx:" + ":".join(rng.choice(_LETTERS) for _ in range(2047)))[:4096]


def test_a_bucket_of_24_widest_patterns_is_searched_over_its_matrix() -> None:
    # the matrix is chosen by work (patterns x tokens), not by count: 24 patterns of 4,095 tokens took
    # ~3 ms per search in Python (and were under the old 24-pattern switch); over the matrix ~0.7 ms
    rng = random.Random(7)
    miner = TemplateMiner(MinerConfig())
    for _ in range(24):
        miner.mine(_wide(rng))
    (bucket,) = miner._buckets.values()
    assert len(bucket) == 24 and len(bucket.patterns[0].tokens) == 4095
    assert bucket._ids is not None
    lines = [_tokens.collapse_lists(_tokens.tokenise(_wide(rng)))[0] for _ in range(20)]
    start = time.process_time()
    found = [bucket.best(toks) for toks in lines]
    per_search = (time.process_time() - start) / len(lines)
    assert found == [_bucket._best_python(bucket.patterns, toks) for toks in lines]
    assert per_search < 0.002


def test_growth_predicts_what_add_and_remove_charge() -> None:
    # the miner evicts before adding by growth(); add() and remove() return the change of charged_bytes()
    rng = random.Random(3)
    for width in (6, 40, 300):  # 200 patterns: a matrix at each width
        bucket = _bucket.Bucket()
        patterns = []
        for i in range(200):
            tokens = ["hx", "qz", *(_word(rng) for _ in range(width - 2))]
            p = _bucket.Pattern(str(i), tokens, ("",) * width, (width, "hx"))
            before = bucket.charged_bytes()
            predicted = bucket.growth(width)
            assert bucket.add(p) == predicted == bucket.charged_bytes() - before
            patterns.append(p)
        assert bucket._ids is not None
        for p in patterns:
            before = bucket.charged_bytes()
            assert bucket.remove(p) == bucket.charged_bytes() - before
        assert bucket.charged_bytes() == 0 and bucket._ids is None


def test_an_evicted_bucket_lets_go_of_its_matrix() -> None:
    # /tmp/miner-rev/dead.py: a bucket filled to hundreds of patterns and evicted down to the one line
    # still mined kept its matrix's columns (charged), so over rounds the bound held mostly dead capacity
    rng = random.Random(4)
    miner = TemplateMiner(MinerConfig(max_patterns=300))
    kept = " ".join(["aa", "qz", *(_word(rng) for _ in range(38))])
    miner.mine(kept)
    for first in ("bb", "cc"):
        for i in range(300):
            miner.mine(" ".join([first, "qz", *(_word(rng) for _ in range(38))]))
            if i % 20 == 0:
                miner.mine(kept)  # recently used: never evicted
        assert miner._index_bytes == sum(b.charged_bytes() for b in miner._buckets.values())
    survivor = next(b for b in miner._buckets.values() if b.patterns[0].tokens[0] == "aa")
    assert len(survivor) == 1
    assert survivor._ids is None and survivor.charged_bytes() == _bucket.BUCKET_BYTES
    full = next(b for b in miner._buckets.values() if b.patterns[0].tokens[0] == "cc")
    assert full._ids is not None
    assert miner._index_bytes == survivor.charged_bytes() + full.charged_bytes()


def test_a_small_bucket_holds_no_arrays_and_costs_what_is_charged() -> None:
    # two empty numpy arrays per bucket were ~400 bytes uncounted: most buckets hold one pattern
    patterns = [_bucket.Pattern(str(i), ["hx", "qz", "x"], ("", " ", " "), (3, "hx")) for i in range(2000)]
    tracemalloc.start()
    try:
        buckets = []
        for p in patterns:
            bucket = _bucket.Bucket()
            bucket.add(p)
            buckets.append(bucket)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert all(b._ids is None and b._consts is None and b._seqs is None and b._rows is None for b in buckets)
    assert held <= sum(b.charged_bytes() for b in buckets)


def test_a_full_matrix_grows_and_shrinks_by_copying_without_re_hashing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a rebuild re-hashed every token of every pattern when the matrix filled: one line then cost ~20 ms
    # at 95 patterns x 2,049 tokens; growing (and shrinking) copies the packed columns instead
    rng = random.Random(5)
    width = 40
    bucket = _bucket.Bucket()
    patterns = []
    hashed: list[str] = []
    real_hash = _bucket._hash

    def counted(t: str) -> int:
        hashed.append(t)
        return real_hash(t)

    monkeypatch.setattr(_bucket, "_hash", counted)
    for i in range(300):
        tokens = ["hx", "qz", *(_word(rng) for _ in range(width - 2))]
        p = _bucket.Pattern(str(i), tokens, ("",) * width, (width, "hx"))
        cap = bucket._ids.shape[1] if bucket._ids is not None else None
        hashed.clear()
        bucket.add(p)
        if cap is not None and bucket._ids is not None and bucket._ids.shape[1] > cap:
            assert len(hashed) == width  # the new pattern's tokens only
        patterns.append(p)
    for p in patterns[:250]:
        cap = bucket._ids.shape[1] if bucket._ids is not None else None
        hashed.clear()
        bucket.remove(p)
        if cap is not None and bucket._ids is not None and bucket._ids.shape[1] < cap:
            assert hashed == []
    assert bucket._ids is not None and bucket._n == 50
    monkeypatch.setattr(_bucket, "_hash", real_hash)
    for p in patterns[250:]:  # the copied columns still answer as the patterns do
        assert bucket.best(tuple(p.tokens)) == _bucket._best_python(bucket.patterns, tuple(p.tokens))
