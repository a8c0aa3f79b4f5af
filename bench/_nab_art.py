"""An ARTime-like pattern memory (adaptive resonance over windowed shapes), a candidate member for NAB.

After Mark Hampton's ARTime (the NAB detector ``ARTime``; its algorithm as described in ARTimeNAB.jl, written
anew here, causally). Per block of ``STEP`` samples:

1. **Downsample** to one value: the block's extreme (max or min, whichever is farther from a moving average of
   block means), or its mean when the extreme is within 10 % of the mean.
2. **Normalise** by the range seen so far (ARTime is given the file's min and max; that is not causal),
   **discretise** to ``LEVELS`` levels and snap values within ``CHOMP`` of the running median to it.
3. **Features**: the last ``WINDOW`` downsampled values and the Haar wavelet transform of them, min-max
   normalised (the window's shape), complement coded.
4. **Dual-vigilance fuzzy ART**: a category resonates when its match (feature similarity cubed times the
   "energy" similarity of the newest value, squared) reaches the upper vigilance (it learns: fast commit),
   a match between the lower and the upper vigilance adds a category to the same cluster, no match at all
   creates a new cluster: an anomaly candidate.
5. The vigilance adapts (raised towards the smallest recent match, lowered by the mean shortfall); anomalies
   are masked for a while after one and after new categories; an anomaly scores a confidence from how far
   its best match fell below both vigilances and how unlike the newest value was.

The first ``TRAIN`` downsampled samples are buffered and learnt in a batch once the initial vigilance is set
from them (no score during that time).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

__all__ = ["ArtMemory"]


def _haar(x: list[float]) -> list[float]:
    """Full Haar decomposition of a power-of-two length list: [approx, coarsest, ..., finest detail]."""
    out: list[float] = []
    a = x
    r = 1.0 / math.sqrt(2.0)
    while len(a) > 1:
        pairs = range(0, len(a), 2)
        d = [(a[i] - a[i + 1]) * r for i in pairs]
        a = [(a[i] + a[i + 1]) * r for i in pairs]
        out = d + out
    return a + out


def _minmax(x: list[float]) -> list[float]:
    lo = min(x)
    hi = max(x) - lo
    return [(v - lo) / hi for v in x] if hi != 0 else [v - lo for v in x]


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0:
        return 1.0 - nb
    if nb == 0.0:
        return 1.0 - na
    return float(a @ b) / (na * nb)


class _Dvfa:
    """Dual-vigilance fuzzy ART over complement-coded vectors; categories are the columns of ``w``."""

    def __init__(self, dim: int, rho: float) -> None:
        self.dim = dim
        self.w = np.ones((1, 2 * dim))  # the initial category: all ones
        self.labels = [1]
        self.clusters = 1
        self.rho_lb = rho
        self.rho_ub = rho
        self.first = True

    def train(self, f: np.ndarray, learn: bool = True) -> tuple[int, float, float]:
        """(cluster label or -1 for a new cluster, best match, its energy similarity)."""
        x = np.concatenate((f, 1.0 - f))
        if self.first:
            self.first = False
            return 1, 0.0, 0.0
        em = np.minimum(self.w, x)
        nw = self.w.sum(axis=1)
        nw[nw == 0] = 0.001
        fs = em.sum(axis=1) / nw
        ei = self.dim - 1
        es = (em[:, ei] + em[:, -1]) / np.maximum(self.w[:, ei] + self.w[:, -1], 0.001)
        m = fs**3 * es**2
        order = np.argsort(-m, kind="stable")
        best = int(order[0])
        a, ae = float(m[best]), float(es[best])
        if not learn:
            return -1, a, ae
        label = -1
        for j in order.tolist():
            mj = float(m[j])
            if mj >= self.rho_ub:
                self.w[j] = em[j]
                if label == -1:
                    label = self.labels[j]
            elif mj >= self.rho_lb and label == -1:
                label = self.labels[j]
                self._add(x, label)
                break
            else:
                break
        if label == -1:
            self.clusters += 1
            self._add(x, self.clusters)
        return label, a, ae

    def _add(self, x: np.ndarray, label: int) -> None:
        self.w = np.vstack((self.w, x))
        self.labels.append(label)


class ArtMemory:
    """Streaming ARTime-like detector of one series: ``process(x)`` returns a score in [0, 1] (mostly 0)."""

    STEP = 6  # samples per downsampled value (ARTime: the probationary period / 104, 4-7 on NAB)
    WINDOW = 8
    LEVELS = 80
    CHOMP = 0.075
    TRAIN = 104  # downsampled values learnt in a batch before any score (ARTime: 8 windows x 13)
    RHO0 = 0.80
    MASK = 12  # downsampled values masked after an anomaly (1.5 windows)

    def __init__(self, oracle: tuple[float, float, int] | None = None) -> None:
        """``oracle``: the file's (min, max, length), ARTime's own non-causal set-up (a reference only)."""
        self._fixed = oracle is not None
        self._lo, self._hi = (oracle[0], oracle[1]) if oracle else (math.inf, -math.inf)
        if oracle:
            n = oracle[2]
            prob = int(0.15 * n) if n < 5000 else 750
            prob -= prob % 2
            self.STEP = max(1, round(prob / (self.WINDOW * 13)))
            self.TRAIN = prob // self.STEP
        self._block: list[float] = []
        self._ma = 0.0
        self._medbin = [0] * (self.LEVELS + 1)
        self._fwin: deque[float] = deque([0.0] * self.WINDOW, maxlen=self.WINDOW)
        self._dsi = 0
        self._buffer: list[np.ndarray] = []
        self._art = _Dvfa(2 * self.WINDOW, self.RHO0)
        self._last_anom_i = 0
        self._last_anom_sim = 0.0
        self._last_rho_i = 0
        self._mask_after_cat = False
        self._no_new_cat = 0
        self._sims: deque[float] = deque([1.0] * (self.TRAIN // 2 + 1), maxlen=self.TRAIN // 2 + 1)
        self._diffs: deque[float] = deque([0.0] * (self.TRAIN + 1), maxlen=self.TRAIN + 1)
        self._a_sum = 0.0
        self._a_n = 0
        self._anom_sims: list[float] = []

    def process(self, x: float) -> float:
        if not self._fixed:
            self._lo = min(self._lo, x)
            self._hi = max(self._hi, x)
        self._block.append(x)
        if len(self._block) < self.STEP:
            return 0.0
        ds = self._downsample()
        self._block = []
        f = self._features(ds)
        self._dsi += 1
        i = self._dsi
        if i < self.TRAIN:
            self._buffer.append(f)
            return 0.0
        if i == self.TRAIN:
            self._buffer.append(f)
            self._initial_rho()
            for k, ff in enumerate(self._buffer, start=1):
                self._detect(ff, k)
            self._buffer = []
            return 0.0
        return self._detect(f, i)

    # -- features -----------------------------------------------------------------------------------------
    def _downsample(self) -> float:
        b = self._block
        mean = sum(b) / len(b)
        hi, lo = max(b), min(b)
        self._ma = mean if self._dsi == 0 else (self._ma + mean) / 2.0
        ds = lo if abs(hi - self._ma) < abs(lo - self._ma) else hi
        if abs(ds - mean) < 0.1 * abs(mean):
            ds = mean
        span = self._hi - self._lo
        ds = (ds - self._lo) / span if span > 0 else 0.0
        level = round(ds * self.LEVELS)
        self._medbin[level] += 1
        med = self._median_level() / self.LEVELS
        ds = level / self.LEVELS
        return med if abs(ds - med) < self.CHOMP else ds

    def _median_level(self) -> int:
        half = (sum(self._medbin) + 1) // 2
        acc = 0
        for lv, c in enumerate(self._medbin):
            acc += c
            if acc >= half:
                return lv
        return self.LEVELS

    def _features(self, ds: float) -> np.ndarray:
        self._fwin.append(ds)
        if self._dsi + 1 < self.WINDOW:
            return np.zeros(2 * self.WINDOW)
        win = list(self._fwin)
        shape = _minmax(_haar(_minmax(win)))
        return np.asarray(shape + win)

    # -- vigilance --------------------------------------------------------------------------------------
    def _initial_rho(self) -> None:
        feats = self._buffer[self.WINDOW - 1 :]
        n = len(feats)
        sums = [sum(_similarity(feats[i], feats[j]) if i != j else 1.0 for j in range(n)) for i in range(n)]
        order = sorted(range(n), key=lambda k: sums[k])
        art = _Dvfa(2 * self.WINDOW, self.RHO0)
        matches = [art.train(feats[k])[1] for k in order]
        tail = matches[self.TRAIN // 2 - 1 :]
        rho = sum(tail) / len(tail) if tail else self.RHO0
        self._art.rho_lb = self._art.rho_ub = rho

    def _detect(self, f: np.ndarray, i: int) -> float:
        art = self._art
        update_after_anom = i - self._last_anom_i == self.MASK
        update_for_trend = i - self._last_rho_i >= self.TRAIN // 2
        mask_after_anom = i - self._last_anom_i <= self.MASK
        if i > self.TRAIN + self.MASK and self._mask_after_cat and self._no_new_cat >= self.MASK:
            self._mask_after_cat = False
        cat, a, ae = art.train(f, learn=i >= self.WINDOW)
        self._no_new_cat = 0 if cat == -1 else self._no_new_cat + 1
        self._a_sum += a
        self._a_n += 1
        self._sims.append(a)
        self._diffs.append(art.rho_ub - a)
        if i - self._last_anom_i < self.MASK and self._anom_sims:
            self._anom_sims[-1] = min(self._anom_sims[-1], a)
        masking = self._mask_after_cat or mask_after_anom
        below_last = a < self._last_anom_sim * (0.90 if mask_after_anom else 0.70)
        score = 0.0
        if i > self.TRAIN and cat == -1 and (not masking or below_last):
            score = self._confidence(a, ae)
            self._anom_sims.append(a)
            self._last_anom_sim = a
            self._last_anom_i = i
        self._mask_after_cat = cat == -1 or self._mask_after_cat
        if i > self.TRAIN and (update_after_anom or update_for_trend):
            self._update_rho(i)
        return max(score, 0.0)

    def _update_rho(self, i: int) -> None:
        art = self._art
        min_sim = min(self._sims)
        ub = min(0.97, self._a_sum / self._a_n)
        lb = art.rho_lb
        if lb <= min_sim:
            lb += (min_sim - lb) * 0.19
        else:
            decr = 0.0
            if i > 2 * self.TRAIN:
                below = [min(0.37, d) for d in self._diffs if d > 0.05]
                if below:
                    decr = sum(below) / len(below)
            lb -= max(0.01, decr) / 2.0
            if self._anom_sims:
                lb = max(sum(self._anom_sims) / len(self._anom_sims), lb)
        art.rho_lb = min(ub, lb)
        art.rho_ub = ub
        self._last_rho_i = i
        self._mask_after_cat = True

    def _confidence(self, fs: float, es: float) -> float:
        fs = min(0.999, fs)
        ub = ((1 - fs) - (1 - self._art.rho_ub)) / (1 - fs)
        lb = ((1 - fs) - (1 - self._art.rho_lb)) / (1 - fs)
        return min(1.0, ub * 0.35 + lb * 0.65 + (1.0 - es) * 1.5)
