from __future__ import annotations

from collections import Counter

from paramedic.cluster.shard import owner, owns


def test_every_key_has_exactly_one_owner_and_the_split_is_even() -> None:
    members = ["r1", "r2", "r3"]
    keys = [f"target-{i}" for i in range(3000)]
    counts = Counter(owner(k, members) for k in keys)
    assert set(counts) == set(members)
    assert all(800 < n < 1200 for n in counts.values()), counts
    assert all(sum(owns(m, k, members) for m in members) == 1 for k in keys[:200])


def test_only_the_departed_members_targets_move() -> None:
    keys = [f"target-{i}" for i in range(2000)]
    before = {k: owner(k, ["r1", "r2", "r3"]) for k in keys}
    after = {k: owner(k, ["r1", "r3"]) for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert moved and all(before[k] == "r2" for k in moved)
    assert owner("x", []) is None
