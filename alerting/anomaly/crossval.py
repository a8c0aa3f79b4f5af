"""Leave-one-category-out NAB scoring: every setting chosen on the other categories, never on the scored one.

For each category ``c`` of the corpus (the *fold*), the candidate configurations are scored on the files of
every other category with NAB's own threshold optimisation (:func:`alerting.anomaly.nab.score_corpus`); the
best configuration *and its threshold* are then applied unchanged to the files of ``c``. The headline is the
held-out raw scores of all folds pooled and normalised over all windows, exactly as NAB normalises a corpus
(``100 * (raw - null) / (perfect - null)``), so a fold that scores a category without windows (only false
positives can happen there) counts its penalties like any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alerting.anomaly.nab import CorpusScore, NabFile, Profile, score_at_threshold, score_corpus

__all__ = ["Fold", "LocoResult", "leave_one_category_out"]


@dataclass(frozen=True, slots=True)
class Fold:
    """One held-out category: what the training folds chose and what it scored with it."""

    category: str
    config: str  # name of the configuration chosen on the other categories
    threshold: float
    train_normalized: float  # in-sample score on the training categories (for reference)
    held_out: CorpusScore  # the category scored at the training threshold

    @property
    def normalized(self) -> float:
        """Normalised held-out score of this category (its raw score when it has no windows)."""
        return self.held_out.normalized


@dataclass(frozen=True, slots=True)
class LocoResult:
    profile: str
    folds: tuple[Fold, ...]
    raw: float
    windows: int
    normalized: float  # the headline: every fold's held-out raw score pooled


def leave_one_category_out(
    files: Sequence[NabFile],
    runs: Mapping[str, Mapping[str, Sequence[float]]],
    profile: Profile,
) -> LocoResult:
    """Score ``files`` out of sample. ``runs`` maps a configuration name to its per-file scores.

    Ties between configurations go to the earlier one in ``runs`` (put the default first).
    """
    if not runs:
        raise ValueError("no configurations to choose from")
    cats = sorted({f.category for f in files})
    if len(cats) < 2:
        raise ValueError("leave-one-category-out needs at least two categories")
    folds: list[Fold] = []
    for cat in cats:
        train = [f for f in files if f.category != cat]
        test = [f for f in files if f.category == cat]
        best: tuple[str, CorpusScore] | None = None
        for name, scores in runs.items():
            sc = score_corpus(train, scores, profile)
            if best is None or sc.normalized > best[1].normalized:
                best = (name, sc)
        assert best is not None  # runs is not empty
        name, sc = best
        held = score_at_threshold(test, runs[name], profile, sc.threshold)
        folds.append(Fold(cat, name, sc.threshold, sc.normalized, held))
    raw = sum(f.held_out.raw for f in folds)
    windows = sum(f.held_out.windows for f in folds)
    null = -profile.fn_weight * windows
    perfect = profile.tp_weight * windows
    normalized = 100.0 * (raw - null) / (perfect - null) if windows else 0.0
    return LocoResult(profile.name, tuple(folds), raw, windows, normalized)
