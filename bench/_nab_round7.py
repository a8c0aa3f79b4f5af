"""Seventh-round candidates for NAB (issue 17): the daily break measured in the "missing" direction.

Stop 32's daily-break floor compared today's value with yesterday's values (± 1 h): a daily peak that does
not come is *close* to yesterday's baseline values around the peak, so that distance misses exactly what it
aimed at. This family follows that review's "if tried again" lead:

* the break is measured the other way round: **yesterday's value at the lag** (``t - 1 day - 1 h``) against
  **today's values of the last 2 h** (``[t - 2 h, t]``, causal: a ± 1 h jitter centred one hour back). A
  peak yesterday with none today is far from every value of today's window; a peak today (yesterday's value
  is the baseline, which today's window still holds) is not a break in this direction;
* the distance (a range fraction) is averaged over the last ``k`` samples and standardised against **running
  moments** of the distances seen so far (mean and variance, an exponential average whose weight is
  ``max(1 / n, 1 / 8640)``: no second 8640-value ring), mapped as ``z / (z + 5)``;
* at or above ``level`` it floors the score at ``rare_score`` (as the rarity test does), but a floor **never
  starts the refractory period**: whether a sample starts one is decided on the score without this floor.

The candidate set was fixed before any run (2026-12-08 00:37 UTC) and never extended: ``k`` in {6, 12},
``level`` in {0.6, 0.7, 0.8}; every leave-one-category-out fold chooses among them and the baseline on its
training categories (``bench/nab_members.py --only 'missing-break*' --choose-among``). ``main`` judges them on
NAB's files outside ``../shared`` (``python -m bench._nab_round7 --unseen DIR``): the member chosen on the 34
shared files (in sample there, ties to the baseline) and its threshold from them, beside the baseline.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

from alerting.anomaly import EnsembleConfig, EnsembleDetector

__all__ = ["ROUND7", "MissingBreak"]

_MOMENT_WINDOW = 8640.0  # samples: the weight floor of the running moments (Numenta's historic window)
_MIN_STD = 0.01
_Z_SCALE = 5.0


class MissingBreak(EnsembleDetector):
    """The default detector plus the missing-direction daily-break floor (see the module docstring)."""

    k = 6
    level = 0.7

    def __init__(self, values: Sequence[float] | None = None) -> None:
        super().__init__(EnsembleConfig())
        self._misses: deque[float] = deque()
        self._miss_sum = 0.0
        self._m_n = 0
        self._m_mean = 0.0
        self._m_var = 0.0
        self._base_raw = 0.0  # the pending sample's raw score without this floor
        self.floored = 0  # samples this floor raised (for the bench's harm checks)

    def _miss(self, x: float, t: datetime) -> float | None:
        """Yesterday's value at ``t - lag - tol`` against today's values of ``[t - 2 tol, t]`` (and ``x``)."""
        cfg = self.config
        if not cfg.season_lag_s:
            return None
        ts = t.timestamp()
        tol = cfg.season_tol_s
        ht = self._hist_t
        target = ts - cfg.season_lag_s - tol
        i = bisect_left(ht, target, self._hist_start)
        if i == len(ht):
            return None
        if i > self._hist_start and target - ht[i - 1] < ht[i] - target:
            i -= 1
        if abs(ht[i] - target) > 0.5 * tol:  # no sample near the lag (a gap): no comparison
            return None
        y = self._hist_x[i]
        a = bisect_left(ht, ts - 2.0 * tol, i + 1)
        best = abs(x - y)
        for v in self._hist_x[a:]:
            d = abs(v - y)
            if d < best:
                best = d
        return min(best / self._span(), 1.0)

    def _member(self, x: float, t: datetime) -> float:
        """The likelihood of the mean of the last ``k`` misses (with ``x``'s) under the running moments."""
        if self._m_n < 2 or len(self._misses) < self.k - 1:
            return 0.0
        miss = self._miss(x, t)
        if miss is None:
            return 0.0
        total = self._miss_sum + miss
        if len(self._misses) >= self.k:
            total -= self._misses[0]
        std = max(math.sqrt(self._m_var), _MIN_STD)
        z = (total / self.k - self._m_mean) / std
        return z / (z + _Z_SCALE) if z > 0.0 else 0.0

    def _raw(self, x: float, t: datetime) -> float:
        score = super()._raw(x, t)
        self._base_raw = score
        if self._n < self.config.warmup or self._member(x, t) < self.level:
            return score
        base = self.config.rare_score
        return base + (1.0 - base) * score

    def score_one(self, x: float, t: datetime) -> float:
        score = super().score_one(x, t)
        if self._pending is not None and self._pending[3] > self._base_raw and score > 0.0:
            self.floored += 1
        return score

    def learn_one(self, x: float, t: datetime) -> None:
        """As the default, but the refractory period is started by the score *without* this floor."""
        pending = self._pending
        if pending is None or pending[:3] != (self._n, x, t):
            self._raw(x, t)
        self._pending = None
        if self._base_raw >= self.config.fire_level and not self._quiet(t):
            self._quiet_until = self._n + self.config.refractory
            self._quiet_until_s = t.timestamp() + self.config.refractory_s
        self._update(x, t)

    def _update(self, x: float, t: datetime) -> None:
        miss = self._miss(x, t) if self._n else None
        if miss is not None:
            self._m_n += 1
            w = max(1.0 / self._m_n, 1.0 / _MOMENT_WINDOW)
            delta = miss - self._m_mean
            self._m_mean += w * delta
            self._m_var = (1.0 - w) * (self._m_var + w * delta * delta)
            self._misses.append(miss)
            self._miss_sum += miss
            if len(self._misses) > self.k:
                self._miss_sum -= self._misses.popleft()
        super()._update(x, t)


Member = Callable[[Sequence[float]], MissingBreak]


def _family() -> dict[str, Member]:
    out: dict[str, Member] = {}
    for k in (6, 12):
        for level in (0.6, 0.7, 0.8):
            out[f"missing-break-k{k}-L{level}"] = type(
                "_MissingBreakKL", (MissingBreak,), {"k": k, "level": level}
            )
    return out


ROUND7: dict[str, Member] = _family()


def _score_one_file(args: tuple[str, Sequence[float], Sequence[datetime]]) -> list[float]:
    name, values, times = args
    det = EnsembleDetector(EnsembleConfig()) if name == "baseline" else ROUND7[name](values)
    process = det.process
    return [process(x, t) for x, t in zip(values, times, strict=True)]


def main(argv: Sequence[str] | None = None) -> None:
    """Judge the family on NAB's files outside the shared subset (chosen and thresholded on the shared)."""
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from alerting.anomaly.nab import PROFILES, load_corpus, score_corpus
    from bench.nab_unseen import judge, split_corpus

    shared_default = Path(os.environ.get("PARAMEDIC_SHARED") or root.parent / "shared") / "data" / "nab"
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--unseen", type=Path, required=True, metavar="DIR", help="a NAB checkout")
    ap.add_argument("--nab", type=Path, default=shared_default)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    shared, unseen = split_corpus(args.unseen, {f.key for f in load_corpus(args.nab)})
    names = ["baseline", *ROUND7]
    files = shared + unseen
    work = [(n, f.values, f.timestamps) for n in names for f in files]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        flat = list(pool.map(_score_one_file, work, chunksize=4))
    runs = {n: {f.key: flat[i * len(files) + j] for j, f in enumerate(files)} for i, n in enumerate(names)}
    std = PROFILES[0]
    in_sample = {n: score_corpus(shared, runs[n], std).normalized for n in names}
    chosen = max(names, key=lambda n: (in_sample[n], n == "baseline"))
    print(f"chosen on the 34 shared files (in sample there): {chosen} ({in_sample[chosen]:.2f})")
    print(f"  {'detector':28} {'shared in-sample':>16} {'thr':>7} {'UNSEEN':>7} {'TP/FP/FN':>10}")
    for n in names:
        r = judge(n, shared, runs[n], unseen, runs[n]).profiles[0]
        mark = "  <- chosen" if n == chosen else ""
        print(
            f"  {n:28} {r.shared.normalized:16.2f} {r.shared.threshold:7.4f} {r.unseen.normalized:7.2f}"
            f" {r.unseen.tp}/{r.unseen.fp}/{r.unseen.fn}{mark}"
        )


if __name__ == "__main__":
    main()
