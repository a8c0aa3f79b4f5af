"""Where a run of tokens occurs in a longer run: Knuth-Morris-Pratt, linear in both lengths (a phrase of
repeated tokens against a long message must not cost their product). Used by highlighting and live tail."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

__all__ = ["occurrences"]


def _failure(want: Sequence[str]) -> list[int]:
    fail = [0] * len(want)
    k = 0
    for i in range(1, len(want)):
        while k and want[i] != want[k]:
            k = fail[k - 1]
        if want[i] == want[k]:
            k += 1
        fail[i] = k
    return fail


def occurrences(words: Sequence[str], want: Sequence[str]) -> Iterator[int]:
    """Start index of every occurrence of ``want`` in ``words``, overlapping ones included, in order;
    nothing when ``want`` is empty."""
    if not want:
        return
    fail = _failure(want)
    k = 0
    for i, word in enumerate(words):
        while k and word != want[k]:
            k = fail[k - 1]
        if word == want[k]:
            k += 1
        if k == len(want):
            yield i - k + 1
            k = fail[k - 1]
