"""Anomaly likelihood of a stream of prediction errors (after Numenta's ``anomaly_likelihood.py``).

A running Gaussian over the last ``window`` errors (O(1) per update: running sums over a ring buffer of
doubles, 8 bytes an error) and the standardised mean of the last ``short`` errors under it, ``z``, mapped
monotonically to [0, 1) as ``z / (z + scale)`` (no saturation, so a threshold can still rank strong
anomalies).
"""

from __future__ import annotations

import math
from array import array
from collections import deque

__all__ = ["ErrorLikelihood"]


class ErrorLikelihood:
    """Streaming likelihood that recent errors are unusually large: ``peek(e)`` in [0, 1], then ``add(e)``."""

    __slots__ = (
        "_hist",
        "_min_std",
        "_pos",
        "_recent",
        "_scale",
        "_short",
        "_short_sum",
        "_sum",
        "_sumsq",
        "_window",
    )

    def __init__(self, window: int, short: int, min_std: float, scale: float) -> None:
        self._scale = scale
        self._window = window
        self._short = short
        self._min_std = min_std
        self._hist = array("d")
        self._pos = 0  # oldest entry once the ring is full
        self._recent: deque[float] = deque()
        self._sum = 0.0
        self._sumsq = 0.0
        self._short_sum = 0.0

    def peek(self, error: float) -> float:
        """Score ``error`` (the newest) against the history so far, without learning it."""
        n = len(self._hist)
        if n < 2:
            return 0.0
        recent = self._recent
        k = len(recent)
        short_sum = self._short_sum + error
        if k >= self._short:
            short_sum -= recent[0]
        else:
            k += 1
        mean = self._sum / n
        var = max(self._sumsq / n - mean * mean, 0.0)
        std = max(math.sqrt(var), self._min_std)
        z = (short_sum / k - mean) / std
        if z <= 0.0:
            return 0.0
        return z / (z + self._scale)

    def add(self, error: float) -> None:
        """Learn ``error``."""
        recent = self._recent
        recent.append(error)
        self._short_sum += error
        if len(recent) > self._short:
            self._short_sum -= recent.popleft()
        hist = self._hist
        self._sum += error
        self._sumsq += error * error
        if len(hist) < self._window:
            hist.append(error)
        else:
            pos = self._pos
            old = hist[pos]
            hist[pos] = error
            self._pos = (pos + 1) % self._window
            self._sum -= old
            self._sumsq -= old * old
