"""The search API's timestamps (``rfc3339_ns``, one-entry cache of the last second) against the plain
formatting, in time order (what the cache serves), shuffled and from threads."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime

from log_pipeline.search._common import rfc3339_ns

NS = 1_000_000_000


def _plain(ns: int) -> str:
    secs, frac = divmod(ns, NS)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def _stamps(seed: int) -> list[int]:
    rnd = random.Random(seed)
    edges = [0, -1, 1, NS - 1, NS, -NS, -(2**63), 2**63 - 1, 1_714_564_800 * NS]
    in_order = sorted(1_714_564_800 * NS + rnd.randrange(5 * NS) for _ in range(2000))  # a page: same seconds
    spread = [rnd.randint(-(2**63), 2**63 - 1) for _ in range(2000)]
    return edges + in_order + in_order[::-1] + spread + rnd.sample(in_order, len(in_order))


def test_same_text_as_the_plain_formatting() -> None:
    stamps = _stamps(1)
    assert [rfc3339_ns(ns) for ns in stamps] == [_plain(ns) for ns in stamps]
    assert rfc3339_ns(1_714_564_800 * NS + 123_456_789) == "2024-05-01T12:00:00.123456789Z"


def test_same_text_from_threads() -> None:
    wrong: list[int] = []

    def run(seed: int) -> None:
        wrong.extend(ns for ns in _stamps(seed) if rfc3339_ns(ns) != _plain(ns))

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
