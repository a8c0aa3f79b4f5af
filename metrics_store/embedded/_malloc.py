"""Give the C allocator's free memory back to the system after a fold.

A fold allocates its sorted columns (tens of MB per 2 M samples) and frees them at its end. glibc serves
allocations that large with ``mmap`` at first, but raises its mmap threshold to the size of each such block
freed (up to 32 MiB), so from the second fold on the same columns come from the heap and, once freed, stay
in the process: the resident size measured between folds then holds the last fold's peak (issue 18: 1.5 to
2.4 KB per active series more than without folds). ``malloc_trim(0)`` hands those free pages back.
Elsewhere than glibc (musl, macOS) :func:`trim` does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

__all__ = ["trim"]


def _load() -> Callable[[int], int] | None:
    try:  # the C library already loaded into the process (find_library would spawn ldconfig)
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


_MALLOC_TRIM = _load()


def trim() -> bool:
    """Return the allocator's free pages to the system; False where the allocator has no such call."""
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True
