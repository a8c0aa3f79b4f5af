"""The miner's memory is bounded in bytes, not only in patterns (issue 11): a sender of distinct long lines
made each pattern and exact-cache key cost ~50 KB, so the 10,000 patterns allowed per tenant (and 1,024
tenants, named by the sender's host name) could hold many GB. Under the bounds nothing changes."""

from __future__ import annotations

import random
import string
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from log_pipeline.config import LogsConfig
from log_pipeline.patterns import TenantMiners
from log_pipeline.patterns._metrics import PatternMetrics
from log_pipeline.patterns._miner import MinerConfig, TemplateMiner
from log_pipeline.patterns._tenant import CHECK_EVERY
from paramedic.logs import LogService


def _long_line(rng: random.Random) -> str:
    """~4 KB of distinct words: no two such lines share a pattern."""
    return " ".join("".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(512))[:4096]


def _held(miner: TemplateMiner, seed: int, lines: int) -> int:
    """Bytes newly allocated and still held after mining ``lines`` distinct long lines."""
    rng = random.Random(seed)
    tracemalloc.start()
    try:
        for _ in range(lines):
            miner.mine(_long_line(rng))
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_distinct_long_lines_stay_within_max_bytes() -> None:
    budget = 2 * 1024 * 1024
    bounded = TemplateMiner(MinerConfig(max_bytes=budget))
    rng = random.Random(7)
    for _ in range(100):
        bounded.mine(_long_line(rng))
        assert bounded.memory_bytes() <= budget + 64 * 1024  # one pattern's text over at most
    assert 0 < len(bounded) < 100
    # the estimate is of the right size: an unbounded miner holds ~50 KB per such line; the bounded one what
    # its bound allows (plus the tokeniser's own bounded caches, which both fill alike: other words each time)
    unbounded = _held(TemplateMiner(MinerConfig(max_bytes=1 << 40)), 8, 300)
    held = _held(TemplateMiner(MinerConfig(max_bytes=budget)), 9, 300)
    assert unbounded > 10 * 1024 * 1024
    assert held < unbounded / 2


def test_a_bucket_emptied_by_an_eviction_gets_the_new_pattern() -> None:
    # A is the one pattern of its bucket and the least recently used when C, of the same bucket, needs room:
    # evicting A dropped the bucket, and C went into a list no longer in the table, so D (one word off C)
    # did not find C, and evicting C later would fail
    miner = TemplateMiner(MinerConfig(max_bytes=3000))
    miner.mine("alpha beta gamma delta epsilon zeta")  # A
    miner.mine("omega psi chi phi upsilon tau")  # X, another bucket
    c = miner.mine("alpha beta other words here now")  # C evicts A
    d = miner.mine("alpha beta other words here later")  # D joins C
    assert d == (c[0], "alpha beta other words here <*>")
    for i in range(30):  # C and everything else evicted in turn (words without digits: no two alike)
        word = chr(97 + i % 26) + chr(97 + i // 26)
        miner.mine(f"{word}first {word}second y z filler text")
    assert miner.template(c[0]) is None  # C was evicted, from its bucket too
    assert miner.mine("alpha beta other words here again")[1] == "alpha beta other words here again"


def test_tenants_are_dropped_least_recently_used_past_the_total() -> None:
    evicted: list[str] = []
    tenants = TenantMiners(max_bytes=2 * 1024 * 1024, on_evict=evicted.append)
    rng = random.Random(11)
    assert CHECK_EVERY == 32 * 32  # the sum is taken on the last of these lines
    for t in range(32):
        for _ in range(32):
            tenants.mine_for(f"org{t}", "s", _long_line(rng))
    # the newest tenant's miner is never dropped: 32 such lines of its own are over the total at most
    assert tenants.memory_bytes() <= 2 * 1024 * 1024 + 32 * 100 * 1024
    assert ("org31", "s") in tenants.tenants()  # the newest is kept
    assert ("org0", "s") not in tenants.tenants()  # the oldest went
    assert evicted  # their patterns count as evicted


def test_under_the_bounds_the_ids_are_those_of_an_unbounded_miner() -> None:
    rng = random.Random(3)
    lines = [
        f"user {rng.choice(['ann', 'bob', 'cy'])} logged in from 10.0.{rng.randint(0, 9)}.{rng.randint(1, 9)}"
        for _ in range(300)
    ] + [f"disk {rng.randint(1, 9)} at {rng.randint(0, 99)}% on host{rng.randint(1, 3)}" for _ in range(300)]
    rng.shuffle(lines)
    small = TemplateMiner(MinerConfig(max_bytes=1024 * 1024))
    huge = TemplateMiner(MinerConfig(max_bytes=1 << 40))
    assert [small.mine(x) for x in lines] == [huge.mine(x) for x in lines]


def _spaced(rng: random.Random) -> str:
    """Two words 4,000 spaces apart: a tiny exact-cache key, a pattern holding the whitespace run."""
    return "w" + "".join(rng.choices(string.ascii_lowercase, k=8)) + " " * 4000 + "z" + rng.choice("abc")


def _astral(rng: random.Random) -> str:
    """One long token of 4-byte characters (1 character each by ``len``)."""
    return "".join(rng.choices("\U0001d400\U0001d401\U0001d402\U0001d403", k=2000)) + " end"


@pytest.mark.parametrize("line", [_spaced, _astral])
def test_what_the_miner_really_holds_stays_near_max_bytes(line: Callable[[random.Random], str]) -> None:
    # evicted patterns stayed in memory through the exact cache (only their keys were charged) and whitespace
    # runs and non-ASCII text were charged short: 4 MiB held ~52 MiB of such lines
    budget = 4 * 1024 * 1024
    miner = TemplateMiner(MinerConfig(max_bytes=budget))
    rng = random.Random(5)
    tracemalloc.start()
    try:
        for _ in range(1500):
            miner.mine(line(rng))
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 2 * budget


def test_the_miners_estimated_bytes_are_a_metric() -> None:
    registry = CollectorRegistry()
    metrics = PatternMetrics(registry)
    tenants = TenantMiners(on_new=metrics.pattern_created, on_evict=metrics.pattern_evicted)
    metrics.watch_memory(tenants.memory_bytes)
    assert registry.get_sample_value("paramedic_log_pattern_miner_bytes") == 0
    tenants.mine_for("o", "s", "disk full on node seven")
    held = registry.get_sample_value("paramedic_log_pattern_miner_bytes")
    assert held is not None
    assert held == tenants.memory_bytes() > 0


def test_the_logs_config_sets_the_miners_byte_bounds(tmp_path: Path) -> None:
    cfg = LogsConfig.model_validate(
        {
            "relp": None,
            "syslog_tcp": None,
            "syslog_udp": None,
            "spool": {"path": "spool"},
            "search": {"type": "embedded", "path": "search"},
            "search_api": {"search_processes": 0},
            "patterns": {"tenant_max_bytes": 1024 * 1024, "max_bytes": 2 * 1024 * 1024},
        }
    )
    service = LogService(cfg, base_dir=tmp_path, appender=None, registry=CollectorRegistry())
    try:
        rng = random.Random(3)
        for _ in range(100):  # ~50 KB each: far past 1 MiB, under the 64 MiB default
            service.miner.mine_for("o", "s", _long_line(rng))
            assert service.miner.memory_bytes() <= 1024 * 1024 + 64 * 1024
        for tenant in range(2 * CHECK_EVERY - 100):  # the last line's sum drops older tenants past 2 MiB
            service.miner.mine_for(f"o{tenant}", "s", _long_line(rng))
        assert service.miner.memory_bytes() <= 2 * 1024 * 1024
    finally:
        service.store.close()
        service.spool.close()
