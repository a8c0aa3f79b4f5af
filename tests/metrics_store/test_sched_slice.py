"""metrics_store.sched_slice: a thread's EEVDF slice request is set, read back, inherited and given back.

These run the real system calls: on Linux >= 6.12 (this project's VMs run 6.18) every test here must pass;
elsewhere the module only has to say why it cannot, which the last tests check on any platform."""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

from metrics_store import sched_slice
from metrics_store.background import BackgroundPool
from metrics_store.sched_slice import (
    SliceError,
    default_slice_while,
    drop_process_slice_requests,
    drop_slice_request,
    get_thread_slice_ns,
    set_thread_slice,
)

T = TypeVar("T")

HAS_SLICES = sched_slice._kernel_version(platform.release()) >= (6, 12) and platform.machine() in (
    "x86_64",
    "aarch64",
)
needs_slices = pytest.mark.skipif(
    not HAS_SLICES, reason="slice requests need Linux >= 6.12 on x86_64/aarch64"
)


def in_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a fresh thread (the test runner's own thread keeps its slice) and return its result."""
    out: list[T] = []
    errors: list[BaseException] = []

    def body() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    t = threading.Thread(target=body)
    t.start()
    t.join(10)
    assert not t.is_alive(), "the thread running the test's body did not finish within 10 s"
    if errors:
        raise errors[0]
    return out[0]


@needs_slices
def test_a_slice_is_set_and_read_back_and_zero_gives_the_default_back() -> None:
    def body() -> tuple[int, int, int, int]:
        default = get_thread_slice_ns()
        kept = set_thread_slice(300_000)
        now = get_thread_slice_ns()
        return default, kept, now, set_thread_slice(0)

    default, kept, now, back = in_thread(body)
    assert (kept, now) == (300_000, 300_000)
    assert back == default != 300_000


@needs_slices
def test_the_kernel_clamps_the_request_to_its_range() -> None:
    assert in_thread(lambda: set_thread_slice(10)) == 100_000
    assert in_thread(lambda: set_thread_slice(10**9)) == 100_000_000


@needs_slices
def test_the_nice_value_is_kept() -> None:
    def body() -> tuple[int, int]:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, 7)
        set_thread_slice(500_000)
        return os.getpriority(os.PRIO_PROCESS, tid), get_thread_slice_ns()

    assert in_thread(body) == (7, 500_000)


@needs_slices
def test_threads_inherit_the_request_and_background_pools_give_it_back() -> None:
    def body() -> tuple[int, int, int]:
        default = get_thread_slice_ns()
        set_thread_slice(200_000)
        inherited = in_thread(get_thread_slice_ns)
        pool = BackgroundPool("slice-test", 1)
        try:
            background = asyncio.run(pool.run(get_thread_slice_ns))
        finally:
            pool.close()
        assert get_thread_slice_ns() == 200_000  # the caller keeps its own
        return default, inherited, background

    default, inherited, background = in_thread(body)
    assert inherited == 200_000
    assert background == default


@needs_slices
def test_every_thread_of_a_process_gives_the_request_back() -> None:
    default = in_thread(get_thread_slice_ns)
    asked, release = threading.Event(), threading.Event()
    tids: list[int] = []

    def holder() -> None:
        tids.append(threading.get_native_id())
        set_thread_slice(200_000)
        asked.set()
        release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert asked.wait(10)
        assert get_thread_slice_ns(tids[0]) == 200_000
        drop_process_slice_requests()
        assert get_thread_slice_ns(tids[0]) == default
    finally:
        release.set()
        t.join(10)


@needs_slices
def test_an_idle_class_thread_is_left_as_it_is() -> None:
    def body() -> tuple[str, int]:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        with pytest.raises(SliceError) as caught:
            set_thread_slice(300_000)
        drop_slice_request()  # quiet
        return str(caught.value), os.sched_getscheduler(0)

    message, policy = in_thread(body)
    assert "not SCHED_OTHER" in message
    assert policy == os.SCHED_IDLE


@needs_slices
def test_a_failed_call_raises_slice_error_with_the_errno() -> None:
    gone = 2**22 + 12345  # above the default pid_max: no such thread
    with pytest.raises(SliceError) as caught:
        set_thread_slice(300_000, tid=gone)
    assert "No such process" in str(caught.value)
    drop_slice_request(gone)  # quiet


def test_an_old_kernel_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(platform, "release", lambda: "6.6.30-generic")
    with pytest.raises(SliceError, match=r"kernel 6\.6\.30-generic is older than 6\.12"):
        set_thread_slice(300_000)
    drop_slice_request()  # quiet


def test_another_platform_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(SliceError, match="Linux-only"):
        get_thread_slice_ns()


def test_a_negative_request_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        set_thread_slice(-1)


def test_kernel_versions_are_parsed() -> None:
    assert sched_slice._kernel_version("6.18.44-fc-v1300") == (6, 18)
    assert sched_slice._kernel_version("6.12") == (6, 12)
    assert sched_slice._kernel_version("5.15.0-91-generic") == (5, 15)
    assert sched_slice._kernel_version("weird") == (0, 0)


@needs_slices
def test_the_reset_on_fork_flag_is_kept() -> None:
    """set_thread_slice passes the flags sched_getattr read back: clearing SCHED_RESET_ON_FORK needs
    privilege (EPERM without it) and, as root, would silently change what the thread's children inherit."""

    def body() -> tuple[int, int]:
        os.sched_setscheduler(0, os.SCHED_OTHER | os.SCHED_RESET_ON_FORK, os.sched_param(0))
        kept = set_thread_slice(300_000)
        return kept, os.sched_getscheduler(0)

    kept, policy = in_thread(body)
    assert kept == 300_000
    assert policy == os.SCHED_OTHER | os.SCHED_RESET_ON_FORK


def test_a_32_bit_process_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The syscall numbers are the 64-bit ABI's: a 32-bit Python on a 64-bit kernel must not use them."""
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(platform, "release", lambda: "6.18.0")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(sys, "maxsize", 2**31 - 1)
    with pytest.raises(SliceError, match="32-bit process on x86_64"):
        get_thread_slice_ns()


@needs_slices
def test_a_child_spawned_in_default_slice_while_starts_at_the_default() -> None:
    """The spawning thread gives its request back for the spawn only: the child and the threads it starts
    have the default slice from their first instruction, and the spawning thread has its request again."""
    default = in_thread(get_thread_slice_ns)
    child_code = (
        "import threading\n"
        "from metrics_store.sched_slice import get_thread_slice_ns\n"
        "out = []\n"
        "t = threading.Thread(target=lambda: out.append(get_thread_slice_ns()))\n"
        "t.start(); t.join()\n"
        "print(get_thread_slice_ns(), out[0])\n"
    )

    def body() -> tuple[int, int, str]:
        set_thread_slice(200_000)
        with default_slice_while():
            inside = get_thread_slice_ns()
            proc = subprocess.run(
                [sys.executable, "-c", child_code], check=True, capture_output=True, text=True, timeout=60
            )
        return inside, get_thread_slice_ns(), proc.stdout

    inside, after, out = in_thread(body)
    assert inside == default != 200_000
    assert after == 200_000
    assert [int(x) for x in out.split()] == [default, default]


def test_default_slice_while_is_quiet_without_slice_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    ran = []
    with default_slice_while():
        ran.append(True)
    assert ran == [True]
