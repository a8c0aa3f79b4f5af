"""Candidate ensemble members from river and scikit-learn, each judged out of sample on NAB.

    .venv/bin/python bench/nab_members.py [--nab ../shared/data/nab] [--jobs 2]

Each member is added to the default detector (``default_detector()``, unchanged otherwise) and the whole is
scored three ways, standard profile:

* ``LOCO on``: the member always on, the threshold chosen on the other categories (leave one category out);
* ``LOCO choice``: each fold chooses between the detector with and without the member on its training
  categories (with its threshold) - the honest figure, since whether to use a member is a setting too;
* ``in sample``: the member on, threshold optimised on all files.

A member earns its place only when ``LOCO choice`` beats the baseline's out-of-sample figure and the
detector stays at >= 10k points/s. Members (their settings fixed before any run, never tuned on the result):

* ``adwin``: river ``drift.ADWIN`` on the value; a detected change floors the score at 0.5 (a level shift);
* ``snarimax-pred``: river ``time_series.SNARIMAX(p=3, d=1)`` one-step forecast as one more predictor of the
  "explained error" (the smallest error of all predictors);
* ``snarimax-resid``: the same model's residuals through their own likelihood, combined by max;
* ``hst``: river ``anomaly.HalfSpaceTrees`` (5 trees, height 6, window 250) on (normalised level, step),
  max-combined above its 0.9 quantile-ish floor;
* ``iforest``: scikit-learn ``IsolationForest`` (100 trees) on windowed features (level, step, deviation
  from the mean of the last 10), refitted every 1000 samples on the last 4000; its scores are computed in
  batches (each sample scored by a forest fitted on earlier samples only, so still causal) because scoring one
  sample at a time costs milliseconds - the per-sample rate is printed.

First-party members after the published NAB detectors (issue 17, second round; settings fixed before the run,
the published defaults where there are some):

* ``volatility``: the mean absolute step of the last 10 samples (range fraction) through its own likelihood,
  combined by max (a change of volatility; ARTime and CAD OSE look at windowed shapes, not single values);
* ``relative-entropy``: after Wang et al.'s relative-entropy detector (NAB's ``relativeEntropy``: window 52,
  5 bins over the range seen so far, chi-square test at 1 %): a window histogram unlike every stored
  hypothesis becomes a new one and floors the score at 0.35 (the in-fold threshold decides whether it fires);
* ``daily-break``: the distance to the values one day earlier (+- 1 h) through its own likelihood (scale 10),
  combined by max (a daily pattern that breaks: a missing daily peak);
* ``mean-rarity``: the rarity test also on the mean of the last 6 values (a sustained move into a band the
  recent window never visited), same gate and floor as the value's own rarity test;
* ``graded-rarity``: the rarity floor scaled by ``1 - rare_rate / rare_rate_max`` instead of the on/off gate.

Third round (issue 17): ARTime's adaptive resonance over windowed shapes (``bench/_nab_art.py``, causal: the
range seen so far, 6 samples a block, 104 blocks learnt before any score; ARTime's own constants otherwise):

* ``art``: its score max-combined with the detector's (after the detector's damping);
* ``art likelihood``: its score through a Numenta-style likelihood (window 10, history 8640) first, so both
  are on one scale before the max;
* ``art alone`` (reference): the pattern memory by itself; ``art oracle`` (reference, not causal): told the
  file's min, max and length as NAB tells ARTime, to check the port against ARTime's published scores.

Fourth round: ``rare-unexplained``: the rarity floor only where the explained error's likelihood is above 0.

Fifth round: Numenta's likelihood as published, a rarity floor on the second rare sample, longer refractory
periods, rarity bins from the recent spread, spectral residual (``bench/_nab_round5.py``).

Sixth round: a level-shift member (weighted max or a floor), a rarity floor that decays with its firings, a
rarity floor shut for days after a firing (``bench/_nab_round6.py``), each a family of settings.

Seventh round: the daily break in the "missing" direction as a floor that never starts the refractory
period (``bench/_nab_round7.py``, a family of 6 fixed before any run).

``--only NAME ...`` runs the baseline and the named members only (a name ending in ``*`` is a prefix).
``--choose-among`` adds one figure: every fold chooses among the baseline and all the members run (a weight, a
level, a window: the member's setting chosen on the training categories, not by whoever reads the table).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("PARAMEDIC_SHARED") or ROOT.parent / "shared")

import numpy as np  # noqa: E402
from river import anomaly, drift, time_series  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402

from alerting.anomaly import EnsembleConfig, EnsembleDetector  # noqa: E402
from alerting.anomaly._likelihood import ErrorLikelihood  # noqa: E402
from alerting.anomaly.crossval import leave_one_category_out  # noqa: E402
from alerting.anomaly.nab import PROFILES, NabFile, load_corpus, read_scores, score_corpus  # noqa: E402
from bench._nab_art import ArtMemory  # noqa: E402
from bench._nab_round5 import ROUND5  # noqa: E402
from bench._nab_round6 import ROUND6  # noqa: E402
from bench._nab_round7 import ROUND7  # noqa: E402


class _Adwin(EnsembleDetector):
    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        self._adwin = drift.ADWIN()
        self._changed = False

    def _raw(self, x: float, t: datetime) -> float:
        s = super()._raw(x, t)
        return max(s, 0.5) if self._changed and self._n >= self.config.warmup else s

    def _update(self, x: float, t: datetime) -> None:
        self._adwin.update(x)
        self._changed = self._adwin.drift_detected
        super()._update(x, t)


class _SnarimaxPred(EnsembleDetector):
    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        self._model = time_series.SNARIMAX(p=3, d=1, q=0)
        self._fc: float | None = None

    def _error(self, x: float, t: datetime) -> float:
        e = super()._error(x, t)
        return e if self._fc is None else min(e, abs(x - self._fc) / self._span())

    def _update(self, x: float, t: datetime) -> None:
        super()._update(x, t)
        self._model.learn_one(x)
        self._fc = float(self._model.forecast(horizon=1)[0]) if self._n > 20 else None


class _SnarimaxResid(_SnarimaxPred):
    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(values)
        self._resid = ErrorLikelihood(8640, 10, 0.01, 5.0)

    def _error(self, x: float, t: datetime) -> float:
        return EnsembleDetector._error(self, x, t)

    def _raw(self, x: float, t: datetime) -> float:
        s = super()._raw(x, t)
        if self._fc is None or self._n < self.config.warmup:
            return s
        return max(s, self._resid.peek(min(abs(x - self._fc) / self._span(), 1.0)))

    def _update(self, x: float, t: datetime) -> None:
        if self._fc is not None:
            self._resid.add(min(abs(x - self._fc) / self._span(), 1.0))
        super()._update(x, t)


class _Hst(EnsembleDetector):
    FLOOR = 0.9

    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        limits = {"x": (0.0, 1.0), "d": (0.0, 1.0)}
        self._hst = anomaly.HalfSpaceTrees(n_trees=5, height=6, window_size=250, seed=1, limits=limits)
        self._prev: float | None = None

    def _features(self, x: float) -> dict[str, float]:
        span = self._span()
        prev = x if self._prev is None else self._prev
        level = min(max((x - self._lo) / span, 0.0), 1.0)
        return {"x": level, "d": min(max(0.5 + (x - prev) / span / 2, 0.0), 1.0)}

    def _raw(self, x: float, t: datetime) -> float:
        s = super()._raw(x, t)
        if self._n < self.config.warmup:
            return s
        h = self._hst.score_one(self._features(x))
        return max(s, (h - self.FLOOR) / (1.0 - self.FLOOR)) if h > self.FLOOR else s

    def _update(self, x: float, t: datetime) -> None:
        if self._n:
            self._hst.learn_one(self._features(x))
        self._prev = x
        super()._update(x, t)


_IF_REFIT = 1000
_IF_WINDOW = 4000


def _iforest_scores(values: Sequence[float]) -> list[float]:
    """Causal IsolationForest scores: sample i is scored by a forest fitted on samples before its batch."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    lo = np.minimum.accumulate(v)
    hi = np.maximum.accumulate(v)
    span = np.where(hi > lo, hi - lo, 1.0)
    prev = np.concatenate(([v[0]], v[:-1]))
    csum = np.concatenate(([0.0], np.cumsum(v)))
    idx = np.arange(n)
    start = np.maximum(idx - 10, 0)
    mean10 = np.where(idx > 0, (csum[idx] - csum[start]) / np.maximum(idx - start, 1), v)
    feats = np.column_stack(((v - lo) / span, (v - prev) / span, (v - mean10) / span))
    out = [0.0] * n
    for a in range(_IF_REFIT, n, _IF_REFIT):
        forest = IsolationForest(n_estimators=100, random_state=0).fit(feats[max(0, a - _IF_WINDOW) : a])
        b = min(a + _IF_REFIT, n)
        raw = -forest.score_samples(feats[a:b])  # ~0.35 normal .. 1 isolated at once
        out[a:b] = [max(0.0, (s - 0.6) / 0.4) for s in raw.tolist()]
    return out


class _IForest(EnsembleDetector):
    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        self._if = _iforest_scores(values)

    def _raw(self, x: float, t: datetime) -> float:
        s = super()._raw(x, t)
        return s if self._n < self.config.warmup else max(s, self._if[self._n])


class _Volatility(EnsembleDetector):
    K = 10

    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        cfg = self.config
        self._steps: deque[float] = deque()
        self._ssum = 0.0
        self._prev: float | None = None
        self._vlik = ErrorLikelihood(cfg.long_window, 1, cfg.min_std, cfg.z_scale)

    def _step(self, x: float) -> float | None:
        return None if self._prev is None else abs(x - self._prev) / self._span()

    def _feature(self, step: float) -> float:
        s, k = self._ssum + step, len(self._steps)
        if k >= self.K:
            s -= self._steps[0]
        else:
            k += 1
        return s / k

    def _raw(self, x: float, t: datetime) -> float:
        s = super()._raw(x, t)
        step = self._step(x)
        if self._n < self.config.warmup or step is None:
            return s
        return max(s, self._vlik.peek(self._feature(step)))

    def _update(self, x: float, t: datetime) -> None:
        step = self._step(x)
        if step is not None:
            self._vlik.add(self._feature(step))
            self._steps.append(step)
            self._ssum += step
            if len(self._steps) > self.K:
                self._ssum -= self._steps.popleft()
        self._prev = x
        super()._update(x, t)


class _RelativeEntropy(EnsembleDetector):
    W, BINS, LEVEL = 52, 5, 0.35
    CHI2 = 13.2767  # chi-square, 4 degrees of freedom, 1 % upper tail

    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        self._win: deque[float] = deque()
        self._hyp: list[list[float]] = []
        self._flag = 0.0

    def _hist(self) -> list[float]:
        lo, span, b = self._lo, self._span(), self.BINS
        h = [0] * b
        for v in self._win:
            h[min(max(int((v - lo) / span * b), 0), b - 1)] += 1
        return [c / self.W for c in h]

    def _raw(self, x: float, t: datetime) -> float:
        s = super()._raw(x, t)
        return s if self._n < self.config.warmup else max(s, self._flag)

    def _update(self, x: float, t: datetime) -> None:
        super()._update(x, t)
        self._flag = 0.0
        self._win.append(x)
        if len(self._win) > self.W:
            self._win.popleft()
        if len(self._win) < self.W:
            return
        p = self._hist()
        best = min(
            (
                sum(a * math.log((a + 1e-6) / (b + 1e-6)) for a, b in zip(p, q, strict=True) if a > 0)
                for q in self._hyp
            ),
            default=math.inf,
        )
        if 2 * self.W * best >= self.CHI2:
            self._flag = self.LEVEL if self._hyp else 0.0
            self._hyp.append(p)


class _DailyBreak(EnsembleDetector):
    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        cfg = self.config
        self._dlik = ErrorLikelihood(cfg.long_window, cfg.short_mean, cfg.min_std, 10.0)

    def _raw(self, x: float, t: datetime) -> float:
        s = super()._raw(x, t)
        e = self._day_error(x, t) if self._n >= self.config.warmup else None
        return s if e is None else max(s, self._dlik.peek(e))

    def _update(self, x: float, t: datetime) -> None:
        e = self._day_error(x, t) if self._n else None
        if e is not None:
            self._dlik.add(e)
        super()._update(x, t)


class _MeanRarity(EnsembleDetector):
    K = 6

    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        self._last: deque[float] = deque()
        self._lsum = 0.0
        self._means: deque[float] = deque()
        self._msorted: list[float] = []

    def _mean_with(self, x: float) -> float:
        s, n = self._lsum + x, len(self._last)
        if n >= self.K:
            s -= self._last[0]
        else:
            n += 1
        return s / n

    def _raw(self, x: float, t: datetime) -> float:
        s = super()._raw(x, t)
        cfg = self.config
        if self._n < cfg.warmup or self._rare_rate >= cfg.rare_rate_max or not self._msorted:
            return s
        m = self._mean_with(x)
        half = 0.5 * self._span() / cfg.rare_bins
        if bisect_right(self._msorted, m + half) != bisect_left(self._msorted, m - half):
            return s
        return max(s, cfg.rare_score + (1.0 - cfg.rare_score) * self._lik.peek(self._error(x, t)))

    def _update(self, x: float, t: datetime) -> None:
        m = self._mean_with(x)
        self._last.append(x)
        self._lsum += x
        if len(self._last) > self.K:
            self._lsum -= self._last.popleft()
        self._means.append(m)
        insort(self._msorted, m)
        if len(self._means) > self.config.rare_window:
            del self._msorted[bisect_left(self._msorted, self._means.popleft())]
        super()._update(x, t)


class _GradedRarity(EnsembleDetector):
    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())

    def _raw(self, x: float, t: datetime) -> float:
        cfg = self.config
        gate = cfg.rare_score * (1.0 - self._rare_rate / cfg.rare_rate_max)
        s = super()._raw(x, t)
        if s < cfg.rare_score or self._rare_rate >= cfg.rare_rate_max:
            return s
        span = self._span()
        tol = cfg.spatial_tolerance * span
        if x > self._hi + tol or x < self._lo - tol or not self._rare(x):
            return s
        lik = (s - cfg.rare_score) / (1.0 - cfg.rare_score)  # the rare floor's likelihood part, undone
        return gate + (1.0 - gate) * lik


class _RareUnexplained(EnsembleDetector):
    """The rarity floor only when the explained error is above its usual size (likelihood > 0): a value in a
    new band that a predictor expected (a slow ramp into it) is not news."""

    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())

    def _raw(self, x: float, t: datetime) -> float:
        cfg = self.config
        s = super()._raw(x, t)
        if s < cfg.rare_score or self._n < cfg.warmup:
            return s
        span = self._span()
        tol = cfg.spatial_tolerance * span
        if x > self._hi + tol or x < self._lo - tol:
            return s  # the spatial floor, untouched
        lik = (s - cfg.rare_score) / (1.0 - cfg.rare_score)  # the rare floor's likelihood part, undone
        return s if lik > 0.0 else 0.0


class _Art(EnsembleDetector):
    """The ARTime-like pattern memory (``bench._nab_art.py``), max-combined after the ensemble's damping."""

    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        self._art = ArtMemory()

    def process(self, x: float, t: datetime) -> float:
        return max(super().process(x, t), self._art.process(x))


class _ArtLikelihood(EnsembleDetector):
    """The pattern memory's score through its own Numenta-style likelihood (window 10, history 8640, the
    ensemble's ``z / (z + 5)``), max-combined after the ensemble's damping: members on one scale."""

    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        cfg = self.config
        self._art = ArtMemory()
        self._alik = ErrorLikelihood(cfg.long_window, cfg.short_mean, cfg.min_std, cfg.z_scale)

    def process(self, x: float, t: datetime) -> float:
        s = super().process(x, t)
        a = self._art.process(x)
        lik = self._alik.peek(a)
        self._alik.add(a)
        return s if self._n <= self.config.warmup else max(s, lik)


class _ArtAlone:
    """The pattern memory on its own (a reference, like HTM: not a member)."""

    def __init__(self, values: Sequence[float]) -> None:
        self._art = ArtMemory()

    def process(self, x: float, t: datetime) -> float:
        return self._art.process(x)


class _ArtOracle(_ArtAlone):
    """As ARTime runs in NAB: told the file's min, max and length (not causal; checks the port only)."""

    def __init__(self, values: Sequence[float]) -> None:
        self._art = ArtMemory((min(values), max(values), len(values)))


class _Baseline(EnsembleDetector):
    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())


Run = dict[str, list[float]]

MEMBERS: dict[str, Callable[[Sequence[float]], EnsembleDetector | _ArtAlone]] = {
    "none (baseline)": _Baseline,
    "adwin": _Adwin,
    "snarimax-pred": _SnarimaxPred,
    "snarimax-resid": _SnarimaxResid,
    "hst": _Hst,
    "iforest": _IForest,
    "volatility": _Volatility,
    "relative-entropy": _RelativeEntropy,
    "daily-break": _DailyBreak,
    "mean-rarity": _MeanRarity,
    "graded-rarity": _GradedRarity,
    "rare-unexplained": _RareUnexplained,
    "art": _Art,
    "art likelihood": _ArtLikelihood,
    "art alone": _ArtAlone,
    "art oracle": _ArtOracle,
    **ROUND5,
    **ROUND6,
    **ROUND7,
}


def _run(member: str, files: Sequence[NabFile]) -> tuple[dict[str, list[float]], float, int]:
    out: dict[str, list[float]] = {}
    elapsed = 0.0
    npoints = 0
    for f in files:
        t0 = time.perf_counter()
        det = MEMBERS[member](f.values)
        process = det.process
        out[f.key] = [process(x, t) for x, t in zip(f.values, f.timestamps, strict=True)]
        elapsed += time.perf_counter() - t0
        npoints += len(f.values)
    return out, elapsed, npoints


def _iforest_per_sample_rate() -> float:
    rng = np.random.default_rng(0)
    x = rng.random((_IF_WINDOW, 3))
    forest = IsolationForest(n_estimators=100, random_state=0).fit(x)
    t0 = time.perf_counter()
    for i in range(200):
        forest.score_samples(x[i : i + 1])
    return 200 / (time.perf_counter() - t0)


def _published(root: Path, name: str, files: Sequence[NabFile]) -> dict[str, list[float]]:
    """A published detector's per-row scores from a NAB checkout's ``results/<name>/<cat>/<name>_<file>``."""
    out: dict[str, list[float]] = {}
    for f in files:
        cat, fname = f.key.split("/", 1)
        out[f.key] = read_scores(root / name / cat / f"{name}_{fname}")
    return out


def _print_row(name: str, files: Sequence[NabFile], scores: Run, base: Run, rate: str) -> None:
    std = PROFILES[0]
    on = leave_one_category_out(files, {name: scores}, std)
    choice = leave_one_category_out(files, {"off": base, "on": scores}, std)
    ins = score_corpus(files, scores, std).normalized
    cats = " ".join(f"{f.normalized:.1f}" for f in on.folds)
    print(f"  {name:28} {on.normalized:8.2f} {choice.normalized:12.2f} {ins:10.2f} {rate:>9}  {cats}")


def _selected(name: str, only: Sequence[str] | None) -> bool:
    """``name`` is one of ``only`` (all when None; ``prefix*`` matches a family)."""
    if not only:
        return True
    return any(name == o or (o.endswith("*") and name.startswith(o[:-1])) for o in only)


def _print_choice(files: Sequence[NabFile], runs: dict[str, Run]) -> None:
    """Every fold chooses among ``runs`` (the baseline first: ties go to it) on its training categories."""
    res = leave_one_category_out(files, runs, PROFILES[0])
    print(f"\neach fold chooses among {len(runs)} (baseline and members): out of sample {res.normalized:.2f}")
    for fold in res.folds:
        h = fold.held_out
        print(
            f"  {fold.category:24} {fold.normalized:7.2f} {h.tp}/{h.fp}/{h.fn} at {fold.threshold:.4f}"
            f"  chose {fold.config}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--nab", type=Path, default=SHARED / "data" / "nab")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", nargs="+", metavar="MEMBER", help="the baseline and these members only")
    ap.add_argument(
        "--choose-among", action="store_true", help="also: each fold chooses among all the members run"
    )
    ap.add_argument("--published", nargs="+", metavar="DETECTOR", help="published NAB results to judge too")
    ap.add_argument(
        "--published-root", type=Path, default=Path("NAB/results"), help="a NAB checkout's results"
    )
    args = ap.parse_args()
    files = load_corpus(args.nab)
    names = [n for n in MEMBERS if n == "none (baseline)" or _selected(n, args.only)]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results: list[Any] = list(pool.map(_run, names, [files] * len(names)))
    base = results[0][0]
    print("standard profile; points/s: whole detector incl. the member, one core (machine shared)")
    print(
        f"  {'member':28} {'LOCO on':>8} {'LOCO choice':>12} {'in sample':>10} {'points/s':>9}  held-out cats"
    )
    for name, (scores, elapsed, npoints) in zip(names, results, strict=True):
        _print_row(name, files, scores, base, f"{npoints / elapsed:,.0f}")
    for name in args.published or []:
        pub = _published(args.published_root, name, files)
        _print_row(f"{name} (published)", files, pub, base, "-")
        both = {k: [max(a, b) for a, b in zip(base[k], pub[k], strict=True)] for k in base}
        _print_row(f"max(ours, {name})", files, both, base, "-")
    if args.choose_among:
        _print_choice(files, {name: r[0] for name, r in zip(names, results, strict=True)})
    if "iforest" in names:
        print(f"\niforest scored one sample at a time: {_iforest_per_sample_rate():,.0f} samples/s")


if __name__ == "__main__":
    main()
