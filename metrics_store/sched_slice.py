"""A thread's EEVDF slice request (Linux >= 6.12): short for threads that answer, long for background work.

On an EEVDF kernel a thread that is *running* keeps the CPU until its slice (the base slice, ~3 ms on this
project's 2-core VMs) is used up, even when a thread of higher priority wakes: a server thread woken by a
read can wait out a search worker's or a hash lane's whole slice first. Since 6.12 the scheduler honours a
per-task slice request (``sched_attr.sched_runtime`` with policy ``SCHED_OTHER``, clamped by the kernel to
0.1-100 ms), and a waking task whose slice is shorter than the running one's may preempt it at once
("sched/eevdf: Allow shorter slices to wakeup-preempt"). Asking for a short slice costs no privilege and
changes no share of CPU time (the weight is the nice value's); it only changes *when* a thread gets the CPU
it is owed. See docs/architecture.md, "CPU slices".

Python has no ``os.sched_setattr``: this is a ``ctypes`` call of the raw system call with the ``struct
sched_attr`` layout of ``sched_setattr(2)``. Everything here is per thread (``tid`` = the native thread id),
but a thread or process *inherits* its creator's slice (clone and fork copy it; exec keeps it): the server
asks for a short slice on its event-loop thread, so the worker threads that thread starts for reads get it
too, and background work started from it gives it back with :func:`drop_slice_request` (a background pool's
threads, the search workers, the log-in hash children), or it would preempt reads as readily as they do.
:func:`set_thread_slice` raises :class:`SliceError` with the reason where there is no slice request
(platform, kernel older than 6.12, errno); the caller logs it once.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "SliceError",
    "default_slice_while",
    "drop_process_slice_requests",
    "drop_slice_request",
    "get_thread_slice_ns",
    "set_thread_slice",
]

_SYS_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}
_SYS_SCHED_GETATTR = {"x86_64": 315, "aarch64": 275}
_SCHED_OTHER = 0
_MIN_KERNEL = (6, 12)  # the first kernel where a shorter slice may wakeup-preempt


class SliceError(OSError):
    """The slice could not be read or set here; the message says why (platform, kernel, errno)."""


class _SchedAttr(ctypes.Structure):
    """``struct sched_attr`` (SCHED_ATTR_SIZE_VER1, 56 bytes) as in ``sched_setattr(2)``."""

    _fields_ = [
        ("size", ctypes.c_uint32),
        ("sched_policy", ctypes.c_uint32),
        ("sched_flags", ctypes.c_uint64),
        ("sched_nice", ctypes.c_int32),
        ("sched_priority", ctypes.c_uint32),
        ("sched_runtime", ctypes.c_uint64),
        ("sched_deadline", ctypes.c_uint64),
        ("sched_period", ctypes.c_uint64),
        ("sched_util_min", ctypes.c_uint32),
        ("sched_util_max", ctypes.c_uint32),
    ]


def _kernel_version(release: str) -> tuple[int, int]:
    parts = release.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def _syscall_numbers() -> tuple[int, int]:
    if not sys.platform.startswith("linux"):
        raise SliceError(f"per-thread slices are Linux-only (platform {sys.platform})")
    release = platform.release()
    if _kernel_version(release) < _MIN_KERNEL:
        raise SliceError(f"kernel {release} is older than 6.12: a shorter slice does not preempt there")
    machine = platform.machine()
    if sys.maxsize <= 2**32:  # a 32-bit Python on a 64-bit kernel: the numbers below are the 64-bit ABI's
        raise SliceError(f"no sched_setattr number known for a 32-bit process on {machine}")
    if machine not in _SYS_SCHED_SETATTR:
        raise SliceError(f"no sched_setattr number known for {machine}")
    return _SYS_SCHED_SETATTR[machine], _SYS_SCHED_GETATTR[machine]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _getattr(tid: int) -> _SchedAttr:
    _, getattr_nr = _syscall_numbers()
    attr = _SchedAttr()
    if _libc().syscall(getattr_nr, tid, ctypes.byref(attr), ctypes.sizeof(attr), 0) != 0:
        err = ctypes.get_errno()
        raise SliceError(err, f"sched_getattr({tid}): {os.strerror(err)}")
    return attr


def get_thread_slice_ns(tid: int | None = None) -> int:
    """The slice (ns) the kernel uses for thread ``tid`` (default: the caller), from ``sched_getattr``.

    Raises :class:`SliceError` where that cannot be read."""
    return int(_getattr(threading.get_native_id() if tid is None else tid).sched_runtime)


def set_thread_slice(slice_ns: int, tid: int | None = None) -> int:
    """Ask for an EEVDF slice of ``slice_ns`` for thread ``tid`` (default: the caller); returns the slice set.

    ``slice_ns`` 0 withdraws the request (the kernel's base slice again). Only a ``SCHED_OTHER`` thread is
    changed (an idle-class or real-time one is left as it is: its scheduling was chosen on purpose), and its
    nice value and flags (reset-on-fork) are passed back as read, so no privilege is needed. The kernel
    clamps the request to 0.1-100 ms; the value returned is the one it kept. Raises :class:`SliceError`
    (with the reason) where this platform or kernel has no slice request, or the call fails."""
    if slice_ns < 0:
        raise ValueError(f"a slice request cannot be negative, got {slice_ns} ns")
    target = threading.get_native_id() if tid is None else tid
    setattr_nr, _ = _syscall_numbers()
    attr = _getattr(target)
    if attr.sched_policy != _SCHED_OTHER:
        raise SliceError(f"thread {target} is not SCHED_OTHER (policy {attr.sched_policy}): left as it is")
    attr.size = ctypes.sizeof(attr)  # sched_flags as read: SCHED_FLAG_RESET_ON_FORK stays as it was
    attr.sched_runtime = slice_ns
    if _libc().syscall(setattr_nr, target, ctypes.byref(attr), 0) != 0:
        err = ctypes.get_errno()
        raise SliceError(err, f"sched_setattr({target}, runtime={slice_ns}): {os.strerror(err)}")
    return get_thread_slice_ns(target)


def drop_slice_request(tid: int | None = None) -> None:
    """Give thread ``tid`` (default: the caller) the kernel's base slice again, if it inherited a request.

    For background work. Quiet where there is nothing to give back (no slice requests here, an idle-class
    thread, a process already gone): the thread that asked for the short slice has logged why it could not."""
    target = threading.get_native_id() if tid is None else tid
    try:
        if _getattr(target).sched_policy == _SCHED_OTHER:
            set_thread_slice(0, target)
    except SliceError:
        pass


def drop_process_slice_requests(pid: int | None = None) -> None:
    """:func:`drop_slice_request` for every thread of process ``pid`` (default: this one).

    A child started from a short-slice thread has the request in every thread it starts before it can give it
    back (a spawned worker's import-time threads, e.g.), and the threads those start inherit it again."""
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{os.getpid() if pid is None else pid}/task").iterdir():
            drop_slice_request(int(task.name))


@contextlib.contextmanager
def default_slice_while() -> Iterator[None]:
    """The calling thread at the kernel's base slice inside the block, its own request again after it.

    For spawning a child process from a short-slice thread: the child (and every thread it starts) inherits
    the default slice from the start, so nothing has to change it from outside afterwards. Changing a
    running child's threads from the parent is a read-then-write of each one's attributes that can undo a
    nice value the child set in between (as root, nice 19 back to 0). Quiet where there is no slice
    request (nothing to give back or restore)."""
    try:
        before = get_thread_slice_ns()
    except SliceError:
        yield
        return
    drop_slice_request()
    try:
        yield
    finally:
        with contextlib.suppress(SliceError):
            if get_thread_slice_ns() != before:
                set_thread_slice(before)
