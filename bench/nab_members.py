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
"""

from __future__ import annotations

import argparse
import os
import sys
import time
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
from alerting.anomaly.nab import PROFILES, NabFile, load_corpus, score_corpus  # noqa: E402


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


class _Baseline(EnsembleDetector):
    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())


MEMBERS: dict[str, Callable[[Sequence[float]], EnsembleDetector]] = {
    "none (baseline)": _Baseline,
    "adwin": _Adwin,
    "snarimax-pred": _SnarimaxPred,
    "snarimax-resid": _SnarimaxResid,
    "hst": _Hst,
    "iforest": _IForest,
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--nab", type=Path, default=SHARED / "data" / "nab")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    files = load_corpus(args.nab)
    names = list(MEMBERS)
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results: list[Any] = list(pool.map(_run, names, [files] * len(names)))
    std = PROFILES[0]
    base = results[0][0]
    print("standard profile; points/s: whole detector incl. the member, one core (machine shared)")
    print(
        f"  {'member':18} {'LOCO on':>8} {'LOCO choice':>12} {'in sample':>10} {'points/s':>9}  held-out cats"
    )
    for name, (scores, elapsed, npoints) in zip(names, results, strict=True):
        on = leave_one_category_out(files, {name: scores}, std)
        choice = leave_one_category_out(files, {"off": base, "on": scores}, std)
        ins = score_corpus(files, scores, std).normalized
        cats = " ".join(f"{f.normalized:.1f}" for f in on.folds)
        print(
            f"  {name:18} {on.normalized:8.2f} {choice.normalized:12.2f} {ins:10.2f} "
            f"{npoints / elapsed:9,.0f}  {cats}"
        )
    print(f"\niforest scored one sample at a time: {_iforest_per_sample_rate():,.0f} samples/s")


if __name__ == "__main__":
    main()
