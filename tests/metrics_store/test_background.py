"""metrics_store.background: work runs in threads at a lower CPU priority, results and errors come back."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from metrics_store.background import BACKGROUND_NICE, BackgroundPool, lower_thread_priority


def _own_nice() -> tuple[str, int]:
    tid = threading.get_native_id()
    return threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, tid)


def test_pool_threads_run_at_the_background_nice_and_the_caller_keeps_its_own() -> None:
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    pool = BackgroundPool("bg-test", 2)
    try:
        name, nice = asyncio.run(pool.run(_own_nice))
    finally:
        pool.close()
    assert name.startswith("bg-test")
    assert nice == max(before, BACKGROUND_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


def test_threads_started_from_a_lowered_thread_inherit_its_nice() -> None:
    seen: list[int] = []

    def child() -> None:
        seen.append(_own_nice()[1])

    def parent() -> None:
        assert lower_thread_priority(15)
        t = threading.Thread(target=child)
        t.start()
        t.join()

    t = threading.Thread(target=parent)
    t.start()
    t.join()
    assert seen == [15]


def test_errors_come_back_to_the_caller_and_a_closed_pool_refuses_work() -> None:
    pool = BackgroundPool("bg-err", 1)

    def boom() -> None:
        raise KeyError("no such user")

    with pytest.raises(KeyError, match="no such user"):
        asyncio.run(pool.run(boom))
    pool.close()
    with pytest.raises(RuntimeError):
        asyncio.run(pool.run(lambda: 1))


def test_a_pool_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        BackgroundPool("bg-none", 0)
