"""A one-step forecaster for the ensemble: an autoregression of order ``p`` on the first differences.

The same model as river's ``time_series.SNARIMAX(p, d=1, q=0)`` with its default regressor (standardised
lag features, a linear model fitted by plain SGD on the squared loss, learning rate 0.01), written out in
plain Python so it costs a few microseconds a sample instead of hundreds (river builds dicts per call):

* the lags are the last ``p`` differences ``y[t] - y[t-1]``, newest first;
* each lag is standardised by its own running mean and (population) variance; a lag with no spread yet is 0;
* the regression predicts the next difference; the forecast is that plus the last value.
"""

from __future__ import annotations

from collections import deque

__all__ = ["DiffAutoregression"]


class DiffAutoregression:
    """Streaming AR(``order``) on first differences: :meth:`learn` each value, then :meth:`forecast`."""

    __slots__ = ("_b", "_diffs", "_last", "_lr", "_m2", "_mean", "_n", "_w")

    def __init__(self, order: int, learning_rate: float) -> None:
        if order < 1:
            raise ValueError("order must be at least 1")
        self._lr = learning_rate
        self._last: float | None = None
        self._diffs: deque[float] = deque(maxlen=order)  # newest first
        self._n = [0] * order
        self._mean = [0.0] * order
        self._m2 = [0.0] * order
        self._w = [0.0] * order
        self._b = 0.0

    def _standardised(self) -> list[float]:
        out: list[float] = []
        n, mean, m2 = self._n, self._mean, self._m2
        for i, x in enumerate(self._diffs):
            var = m2[i] / n[i] if n[i] else 0.0
            out.append((x - mean[i]) / var**0.5 if var > 0.0 else 0.0)
        return out

    def _predict(self, z: list[float]) -> float:
        acc = 0.0  # summed left to right, as sum() does (0 + a == a exactly)
        w = self._w
        for i, x in enumerate(z):
            acc += w[i] * x
        return self._b + acc

    def learn(self, y: float) -> None:
        """One SGD step on the difference ``y - last`` (the first value only starts the series)."""
        last = self._last
        self._last = y
        if last is None:
            return
        n, mean, m2 = self._n, self._mean, self._m2
        z: list[float] = []
        for i, x in enumerate(self._diffs):  # each lag's scaler learns it, then scales it
            c = n[i] + 1
            n[i] = c
            mu = mean[i]
            d = x - mu
            mu += d / c
            mean[i] = mu
            v = m2[i] + d * (x - mu)
            m2[i] = v
            var = v / c
            z.append((x - mu) / var**0.5 if var > 0.0 else 0.0)
        diff = y - last
        step = self._lr * 2.0 * (self._predict(z) - diff)
        w = self._w
        for i, x in enumerate(z):
            w[i] -= step * x
        self._b -= step
        self._diffs.appendleft(diff)

    def forecast(self) -> float | None:
        """The next value (None before the first value)."""
        if self._last is None:
            return None
        return self._predict(self._standardised()) + self._last
