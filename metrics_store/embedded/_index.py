"""In-memory label index: ref -> labels, labels -> ref, and postings ``name -> value -> set(refs)``.

Memory: the index keeps one shared ``(name, value)`` tuple per distinct pair (``canonical``), so the labels
of 100k series that share most pairs (``job``, ``instance``, ``__name__``, low-cardinality labels) hold
references to a few hundred tuples instead of ~7 fresh tuples (56 B each) per series.

Matchers are evaluated against the *distinct values* of a label, never per series. A matcher that matches the
empty string also matches series that lack the label (Prometheus semantics), so such matchers are applied by
subtracting the refs whose value does not match instead of unioning the ones that do.

Thread safety: none; the store calls it under its lock. ``labels_of`` reads an append-only list and may be
called without the lock for refs that were handed out already.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from metrics_store.model import Labels, Matcher, MatchOp

__all__ = ["LabelIndex"]


def _interned(s: str) -> str:
    return sys.intern(s) if type(s) is str else s  # sys.intern refuses str subclasses


class LabelIndex:
    def __init__(self) -> None:
        self._refs: dict[Labels, int] = {}
        self._labels: list[Labels | None] = []
        self._postings: dict[str, dict[str, set[int]]] = {}
        self._all: set[int] = set()
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
        self._all.add(ref)
        for name, value in labels:
            self._postings.setdefault(name, {}).setdefault(value, set()).add(ref)
        return labels

    def _values(self, name: str) -> dict[str, set[int]]:
        return self._postings.get(name, {})

    def match(self, matchers: Sequence[Matcher]) -> npt.NDArray[np.uint32]:
        """Sorted refs of series matching every matcher."""
        positive: list[set[int]] = []
        negative: list[Matcher] = []
        for m in matchers:
            if m.matches(""):
                negative.append(m)
                continue
            values = self._values(m.name)
            if m.op is MatchOp.EQ:
                positive.append(values.get(m.value, set()))
            else:
                hit: set[int] = set()
                for value, refs in values.items():
                    if m.matches(value):
                        hit |= refs
                positive.append(hit)
        if positive:
            positive.sort(key=len)
            result = set(positive[0])
            for s in positive[1:]:
                if not result:
                    break
                result &= s
        else:
            result = set(self._all)
        for m in negative:
            if not result:
                break
            for value, refs in self._values(m.name).items():
                if not m.matches(value):
                    result -= refs
        return np.array(sorted(result), dtype=np.uint32)
