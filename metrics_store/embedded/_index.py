"""In-memory label index: ref -> labels, labels -> ref, and postings ``name -> value -> sorted refs``.

Memory: the index keeps one shared ``(name, value)`` tuple per distinct pair (``canonical``), so the labels
of 100k series that share most pairs (``job``, ``instance``, ``__name__``, low-cardinality labels) hold
references to a few hundred tuples instead of ~7 fresh tuples (56 B each) per series. A posting list is an
``array('I')`` of sorted refs (4 bytes a series and label; a ``set`` of refs cost ~55). Matching works on
sorted arrays: the smallest positive list first, each next one by ``searchsorted`` (or, for a few refs
against a long list, by bisection in the list without copying it), unions by a sort, exclusions by ``isin``.

Matchers are evaluated against the *distinct values* of a label, never per series. A matcher that matches the
empty string also matches series that lack the label (Prometheus semantics), so such matchers are applied by
subtracting the refs whose value does not match instead of unioning the ones that do.

Thread safety: none; the store calls it under its lock. ``labels_of`` reads an append-only list and may be
called without the lock for refs that were handed out already.
"""

from __future__ import annotations

import bisect
import sys
from array import array
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from metrics_store.model import Labels, Matcher, MatchOp

__all__ = ["LabelIndex"]


def _interned(s: str) -> str:
    return sys.intern(s) if type(s) is str else s  # sys.intern refuses str subclasses


_BISECT_RATIO = 16  # fewer refs than 1/16 of a posting list's: looked up in it by bisection, not copied


def _as_array(refs: array[int] | npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """Refs as a numpy array; a posting list is copied (never kept as a view: a buffer exported by the
    ``array`` would stop it from growing)."""
    if isinstance(refs, np.ndarray):
        return refs
    return np.frombuffer(refs, dtype=np.uint32).copy() if len(refs) else np.empty(0, np.uint32)


def _insert(refs: array[int], ref: int) -> None:
    """Add ``ref`` to a sorted posting list (appended: refs are handed out in increasing order)."""
    if not refs or refs[-1] < ref:
        refs.append(ref)
        return
    at = bisect.bisect_left(refs, ref)
    if at == len(refs) or refs[at] != ref:
        refs.insert(at, ref)


def _intersect(
    small: npt.NDArray[np.uint32], other: array[int] | npt.NDArray[np.uint32]
) -> npt.NDArray[np.uint32]:
    """The refs of ``small`` also in ``other`` (both sorted, unique; ``other`` at least as long)."""
    if not len(small) or not len(other):
        return np.empty(0, np.uint32)
    if isinstance(other, array) and len(small) * _BISECT_RATIO < len(other):
        end = len(other)
        kept = [r for r in small.tolist() if (i := bisect.bisect_left(other, r)) < end and other[i] == r]
        return np.array(kept, dtype=np.uint32)
    big = _as_array(other)
    at = np.minimum(np.searchsorted(big, small), len(big) - 1)
    both: npt.NDArray[np.uint32] = small[big[at] == small]
    return both


def _union(lists: list[array[int]]) -> npt.NDArray[np.uint32]:
    """Sorted unique refs of several posting lists (of one label name: disjoint, a series has one value
    per name; duplicates are dropped all the same). A sort, not ``np.unique`` (~40x slower here)."""
    if not lists:
        return np.empty(0, np.uint32)
    if len(lists) == 1:
        return _as_array(lists[0])
    merged = np.sort(np.concatenate([_as_array(refs) for refs in lists]))
    if len(merged) > 1:
        keep = np.ones(len(merged), dtype=np.bool_)
        np.not_equal(merged[1:], merged[:-1], out=keep[1:])
        if not keep.all():
            merged = merged[keep]
    return merged


class LabelIndex:
    def __init__(self) -> None:
        self._refs: dict[Labels, int] = {}
        self._labels: list[Labels | None] = []
        # postings: sorted ``array('I')`` of refs (4 bytes a ref; a set of int costs ~50)
        self._postings: dict[str, dict[str, array[int]]] = {}
        self._all: array[int] = array("I")
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}

    def __len__(self) -> int:
        return len(self._all)

    @property
    def next_ref(self) -> int:
        return len(self._labels)

    def get(self, labels: Labels) -> int | None:
        return self._refs.get(labels)

    def labels_of(self, ref: int) -> Labels:
        labels = self._labels[ref]
        if labels is None:
            raise KeyError(ref)
        return labels

    def known(self, ref: int) -> bool:
        return 0 <= ref < len(self._labels) and self._labels[ref] is not None

    def canonical(self, labels: Labels) -> Labels:
        """``labels`` (equal) made of the index's shared pair tuples; new pairs are added to the pool."""
        pairs = self._pairs
        out: list[tuple[str, str]] = []
        for pair in labels:
            shared = pairs.get(pair)
            if shared is None:
                shared = pairs[pair] = (_interned(pair[0]), _interned(pair[1]))
            out.append(shared)
        return tuple(out)

    def add(self, ref: int, labels: Labels) -> Labels:
        """Index ``labels`` under ``ref``; returns the stored (canonical, equal) labels."""
        labels = self.canonical(labels)
        if ref >= len(self._labels):
            self._labels.extend([None] * (ref + 1 - len(self._labels)))
        self._labels[ref] = labels
        self._refs[labels] = ref
        _insert(self._all, ref)
        for name, value in labels:
            values = self._postings.get(name)
            if values is None:
                values = self._postings[name] = {}
            refs = values.get(value)
            if refs is None:
                values[value] = array("I", (ref,))
            else:
                _insert(refs, ref)
        return labels

    def _values(self, name: str) -> dict[str, array[int]]:
        return self._postings.get(name, {})

    def _positive(self, m: Matcher) -> array[int] | npt.NDArray[np.uint32]:
        """Refs of the series whose ``m.name`` matches ``m`` (a matcher that does not match ""): for ``=``
        the posting list itself (not copied; the caller only reads it)."""
        values = self._values(m.name)
        if m.op is MatchOp.EQ:
            refs = values.get(m.value)
            return refs if refs is not None else np.empty(0, np.uint32)
        return _union([refs for value, refs in values.items() if m.matches(value)])

    def match(self, matchers: Sequence[Matcher]) -> npt.NDArray[np.uint32]:
        """Sorted refs of series matching every matcher."""
        negative = [m for m in matchers if m.matches("")]
        positive = sorted((self._positive(m) for m in matchers if not m.matches("")), key=len)
        if positive:
            result = _as_array(positive[0])
            for refs in positive[1:]:
                if not len(result):
                    break
                result = _intersect(result, refs)
        else:
            result = _as_array(self._all)
        for m in negative:
            if not len(result):
                break
            drop = _union([refs for value, refs in self._values(m.name).items() if not m.matches(value)])
            if len(drop):
                result = result[~np.isin(result, drop, assume_unique=True)]
        return result
