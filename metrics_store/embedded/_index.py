"""In-memory label index: ref -> labels, labels -> ref, and postings ``name -> value -> set(refs)``.

Matchers are evaluated against the *distinct values* of a label, never per series. A matcher that matches the
empty string also matches series that lack the label (Prometheus semantics), so such matchers are applied by
subtracting the refs whose value does not match instead of unioning the ones that do.

Thread safety: none; the store calls it under its lock. ``labels_of`` reads an append-only list and may be
called without the lock for refs that were handed out already.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from metrics_store.model import Labels, Matcher, MatchOp

__all__ = ["LabelIndex"]


class LabelIndex:
    def __init__(self) -> None:
        self._refs: dict[Labels, int] = {}
        self._labels: list[Labels | None] = []
        self._postings: dict[str, dict[str, set[int]]] = {}
        self._all: set[int] = set()

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

    def add(self, ref: int, labels: Labels) -> None:
        if ref >= len(self._labels):
            self._labels.extend([None] * (ref + 1 - len(self._labels)))
        self._labels[ref] = labels
        self._refs[labels] = ref
        self._all.add(ref)
        for name, value in labels:
            self._postings.setdefault(name, {}).setdefault(value, set()).add(ref)

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
