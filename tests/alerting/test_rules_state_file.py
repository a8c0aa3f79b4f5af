"""The alert state file: concurrent savers (stop() while a cancelled cycle still runs in its thread) never
collide on a shared temp file, and what is left is one whole state."""

from __future__ import annotations

import threading
from pathlib import Path

from alerting.rules._state import load_state, save_state
from alerting.rules.errors import RuleError


def test_concurrent_saves_each_write_a_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "rules-state.json"
    errors: list[RuleError] = []

    def saver(n: int) -> None:
        for k in range(200):
            try:
                save_state(path, n * 1000 + k, {"g": {"Hot": [{"n": n, "k": k}]}})
            except RuleError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=saver, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    saved_at, groups = load_state(path)
    entry = groups["g"]["Hot"][0]
    assert saved_at == entry["n"] * 1000 + entry["k"]
    assert [p.name for p in tmp_path.iterdir()] == ["rules-state.json"]  # no temp file left behind
