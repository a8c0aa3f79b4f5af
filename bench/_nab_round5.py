"""Fifth-round candidates for NAB (issue 17), judged by ``bench/nab_members.py`` like every other member.

Each is the default detector with one change, its settings fixed before any run (the published values where
there are some), never tuned on a result:

* ``numenta-likelihood``: Numenta's ``anomaly_likelihood.py`` as published instead of the ensemble's
  likelihood: the Gaussian is fitted to the *moving averages* (10) of the last 8640 errors, not to the errors
  themselves, with its lower bounds (mean 0.03, variance 0.0003); the newest moving average's tail
  probability ``Q(z)`` is log scaled, ``log(Q + 1e-10) / log(1e-10)`` (Numenta's ``computeLogLikelihood``);
* ``rare-twice``: the rarity floor only on the second rare sample in a row (a blip is not a new regime), gated
  by the rate of rare values before the first of them, the second judged without the first;
* ``refractory-12h`` / ``refractory-24h``: a longer suppression after a firing (NAB's windows are a tenth of
  a file; 6 h is the default);
* ``recent-span``: the rarity test's bins sized by the recent window's own spread, not the range ever seen
  (one old spike widens every bin);
* ``spectral-residual``: Ren et al. (KDD 2019): the saliency of the newest value over the last 64 (plus 5
  extrapolated points, average filter 3); an SR score above 3 against the mean saliency of the last 21
  floors the score at ``rare_score``.
"""

from __future__ import annotations

import dataclasses
import math
from array import array
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from alerting.anomaly import EnsembleConfig, EnsembleDetector

__all__ = ["ROUND5"]

_LOG_FLOOR = math.log(1e-10)


class _NumentaLikelihood:
    """``peek``/``add`` like ``ErrorLikelihood``, but Numenta's estimator and log-scaled tail probability."""

    def __init__(self, window: int, short: int) -> None:
        self._window = window
        self._short = short
        self._hist = array("d")  # moving averages, a ring once full
        self._pos = 0
        self._recent: deque[float] = deque()
        self._short_sum = 0.0
        self._sum = 0.0
        self._sumsq = 0.0

    def _avg(self, error: float) -> float:
        k = len(self._recent)
        s = self._short_sum + error
        if k >= self._short:
            s -= self._recent[0]
        else:
            k += 1
        return s / k

    def peek(self, error: float) -> float:
        n = len(self._hist)
        if n < 2:
            return 0.0
        mean = max(self._sum / n, 0.03)
        var = max(self._sumsq / n - (self._sum / n) ** 2, 0.0003)
        z = (self._avg(error) - mean) / math.sqrt(var)
        if z <= 0.0:
            return 0.0
        tail = 0.5 * math.erfc(z / math.sqrt(2.0))
        return min(math.log(tail + 1e-10) / _LOG_FLOOR, 1.0)

    def add(self, error: float) -> None:
        avg = self._avg(error)
        self._recent.append(error)
        self._short_sum += error
        if len(self._recent) > self._short:
            self._short_sum -= self._recent.popleft()
        self._sum += avg
        self._sumsq += avg * avg
        if len(self._hist) < self._window:
            self._hist.append(avg)
        else:
            old = self._hist[self._pos]
            self._hist[self._pos] = avg
            self._pos = (self._pos + 1) % self._window
            self._sum -= old
            self._sumsq -= old * old


class _NumentaDetector(EnsembleDetector):
    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        cfg = self.config
        self._lik = _NumentaLikelihood(cfg.long_window, cfg.short_mean)  # type: ignore[assignment]


class _RareTwice(EnsembleDetector):
    """The gate is the one the first of the two samples saw (the first rare sample itself raises the rate);
    the second is rare against the recent window without the first (which has just filled its own band)."""

    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        self._prev: float | None = None  # the previous sample, when it was rare
        self._rate_before_prev = 0.0
        self._checking = False

    def _rare(self, x: float) -> bool:
        if not self._checking:
            return super()._rare(x)
        prev = self._prev
        if prev is None:
            return False
        half = 0.5 * self._span() / self.config.rare_bins
        near = bisect_right(self._sorted, x + half) - bisect_left(self._sorted, x - half)
        return near == 0 or (near == 1 and abs(x - prev) <= half)

    def _raw(self, x: float, t: datetime) -> float:
        rate = self._rare_rate
        self._checking = True  # the floor's test in _raw needs the previous sample rare too
        if self._prev is not None:
            self._rare_rate = self._rate_before_prev
        try:
            return super()._raw(x, t)
        finally:
            self._checking = False
            self._rare_rate = rate

    def _update(self, x: float, t: datetime) -> None:
        self._prev = x if self._sorted and super()._rare(x) else None
        self._rate_before_prev = self._rare_rate
        super()._update(x, t)


def _longer_refractory(seconds: float) -> type[EnsembleDetector]:
    class _Refractory(EnsembleDetector):
        def __init__(self, values: Sequence[float]) -> None:
            super().__init__(dataclasses.replace(EnsembleConfig(), refractory_s=seconds))

    return _Refractory


class _RecentSpan(EnsembleDetector):
    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())

    def _rare(self, x: float) -> bool:
        srt = self._sorted
        span = srt[-1] - srt[0] if srt else 0.0
        half = 0.5 * (span if span > 0.0 else self._span()) / self.config.rare_bins
        return bisect_right(srt, x + half) == bisect_left(srt, x - half)


class _SpectralResidual(EnsembleDetector):
    W, Q, Z, M, TAU = 64, 3, 21, 5, 3.0

    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        self._win: deque[float] = deque(maxlen=self.W - 1)
        self._sal: deque[float] = deque(maxlen=self.Z)
        self._sal_now = 0.0

    def _saliency(self, x: float) -> float:
        """SR score of ``x`` (0 until the window is full)."""
        if len(self._win) < self.W - 1:
            return 0.0
        m = self.M
        v = np.append(np.fromiter(self._win, float, len(self._win)), x)
        grad = float(np.mean((v[-1] - v[-m - 1 : -1]) / np.arange(m, 0, -1)))
        v = np.append(v, np.full(m, v[-m] + grad * m))  # the paper's extrapolated points
        spec = np.fft.fft(v)
        amp = np.abs(spec)
        amp[amp == 0.0] = 1e-8
        log_amp = np.log(amp)
        resid = log_amp - np.convolve(log_amp, np.ones(self.Q) / self.Q, mode="same")
        sal = np.abs(np.fft.ifft(np.exp(resid + 1j * np.angle(spec))))
        self._sal_now = now = float(sal[-m - 1])
        base = sum(self._sal) / len(self._sal) if self._sal else now
        return (now - base) / base if base > 0.0 else 0.0

    def _raw(self, x: float, t: datetime) -> float:
        s = super()._raw(x, t)
        if self._n >= self.config.warmup and self._saliency(x) > self.TAU:
            s = max(s, self.config.rare_score)
        return s

    def _update(self, x: float, t: datetime) -> None:
        if self._n >= self.config.warmup and len(self._win) == self.W - 1:
            self._sal.append(self._sal_now)
        self._win.append(x)
        super()._update(x, t)


ROUND5: dict[str, type[EnsembleDetector]] = {
    "numenta-likelihood": _NumentaDetector,
    "rare-twice": _RareTwice,
    "refractory-12h": _longer_refractory(43200.0),
    "refractory-24h": _longer_refractory(86400.0),
    "recent-span": _RecentSpan,
    "spectral-residual": _SpectralResidual,
}
