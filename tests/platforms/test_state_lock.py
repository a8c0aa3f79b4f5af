"""``StateDir.locked``: exclusive across threads, re-entrant within one (a nested call used to open a second
descriptor and wait on its own ``flock`` for ever)."""

from __future__ import annotations

import threading
from pathlib import Path

from platforms.local.state import StateDir


def _in_thread(fn: object, timeout_s: float = 10.0) -> bool:
    """Run ``fn`` in a daemon thread; True when it finished within ``timeout_s``."""
    assert callable(fn)
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    t.join(timeout_s)
    return not t.is_alive()


def test_a_nested_lock_in_the_same_thread_does_not_wait_for_itself(tmp_path: Path) -> None:
    paths = StateDir(tmp_path)
    depth: list[int] = []

    def nested() -> None:
        with paths.locked():
            depth.append(1)
            with paths.locked():
                depth.append(2)
            depth.append(3)

    assert _in_thread(nested), "a nested StateDir.locked() deadlocked"
    assert depth == [1, 2, 3]


def test_another_thread_waits_until_the_outer_lock_is_released(tmp_path: Path) -> None:
    paths = StateDir(tmp_path)
    inside = threading.Event()
    release = threading.Event()
    other_got_it = threading.Event()

    def holder() -> None:
        with paths.locked():
            with paths.locked():
                pass  # the inner exit must not release the lock
            inside.set()
            assert release.wait(10)

    def other() -> None:
        with paths.locked():
            other_got_it.set()

    h = threading.Thread(target=holder, daemon=True)
    h.start()
    assert inside.wait(10)
    o = threading.Thread(target=other, daemon=True)
    o.start()
    assert not other_got_it.wait(0.3), "another thread entered while the outer lock was held"
    release.set()
    assert other_got_it.wait(10)
    h.join(10)
    o.join(10)
