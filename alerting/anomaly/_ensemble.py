"""An ensemble detector: several predictors, each error scored by its own likelihood, combined by max.

Per sample ``(x, t)``, with ``x`` normalised by the range seen so far:

1. **Predictors** — an EWMA level, seasonal baselines per hour-of-day and hour-of-week, and a one-step
   forecast of an autoregression on the first differences (:class:`DiffAutoregression`: follows a trend or a
   ramp the EWMA lags behind); their *smallest* error is the "explained" error (a daily peak is explained by
   the daily baseline).
2. **Likelihood** of that error (:class:`ErrorLikelihood`): the mean of the last ``short_mean`` errors
   standardised against a running Gaussian of the last ``long_window`` errors (Numenta's averaging window 10
   and historic window 8640), mapped monotonically to [0, 1) as ``z / (z + z_scale)``.
3. **Daily recurrence** — a likelihood score is scaled down by ``e_day / e`` when a value about as close to
   ``x`` was seen one day earlier within ``season_tol_s`` (``e_day``: the smallest distance to those values,
   ``e``: the explained error): a spike that comes back every day at about the same time (a nightly job,
   jittering by tens of minutes) is not news, whereas the hour-of-day baselines smear it.
4. **Novelty** — a value outside the range seen so far (with a tolerance) scores at least ``spatial_score``;
   a value in a band of the range that the recent window never visited scores at least ``rare_score`` — but
   only while rare values are themselves rare: an EWMA of the "rare" indicator of every sample must be below
   ``rare_rate_max``. That gate replaces a fixed sample count before the test starts (which has to differ
   between a 5-minute and an hourly series): early in any series most values are new, the rate is high and
   the test stays shut until the series has shown its usual values, however long that takes; a series that
   keeps wandering into new bands never trusts the test.
5. **Combine** by max, then **damp**: a refractory period after a firing (``refractory`` samples and
   ``refractory_s`` seconds, whichever ends later: a fixed span, causal), and the grace period
   after :meth:`notify_event`.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from alerting.anomaly._forecast import DiffAutoregression
from alerting.anomaly._likelihood import ErrorLikelihood

__all__ = ["EnsembleConfig", "EnsembleDetector"]


@dataclass(frozen=True, slots=True)
class EnsembleConfig:
    """One configuration for every series (chosen once on the NAB subset, never per file)."""

    warmup: int = 150
    ewma_alpha: float = 0.1
    season_alpha: float = 0.3
    ar_order: int = 3  # lags of the autoregression on first differences (0: off)
    ar_learning_rate: float = 0.01
    ar_start: int = 20  # samples before its forecast is used
    long_window: int = 8640  # samples in the error distribution (Numenta's historicWindowSize)
    short_mean: int = 10  # errors averaged into the scored one (Numenta's averagingWindow)
    min_std: float = 0.01
    z_scale: float = 5.0
    season_lag_s: float = 86400.0  # daily recurrence test (0: off)
    season_tol_s: float = 3600.0  # ... looks at the values within this much of one lag earlier
    spatial_tolerance: float = 0.06  # fraction of the range beyond which a value is new territory
    spatial_score: float = 0.5
    rare_window: int = 3000  # recent values the rarity test looks at (0: off)
    rare_bins: int = 20  # a value is rare if no recent value is within range / (2 * rare_bins)
    rare_score: float = 0.45  # floor of the score of a rare value
    rare_rate_max: float = 0.005  # the rarity test counts while the rate of rare values is below this
    rare_rate_alpha: float = 0.01  # ... an EWMA with this weight (from 0 at the first sample)
    fire_level: float = 0.4  # a score this high starts the refractory period
    refractory: int = 40  # samples damped after a firing
    refractory_damp: float = 0.0
    refractory_s: float = 21600.0  # ... and at least this long (6 h, whatever the sample rate)
    grace_s: float = 900.0
    grace_damp: float = 0.2


class EnsembleDetector:
    """Streaming detector for one series. Not thread-safe: one instance per series, one writer."""

    def __init__(self, config: EnsembleConfig | None = None) -> None:
        self.config = cfg = config or EnsembleConfig()
        self._n = 0
        self._lo = 0.0
        self._hi = 0.0
        self._level = 0.0
        self._day: dict[int, float] = {}
        self._week: dict[int, float] = {}
        self._lik = ErrorLikelihood(cfg.long_window, cfg.short_mean, cfg.min_std, cfg.z_scale)
        self._ar = DiffAutoregression(cfg.ar_order, cfg.ar_learning_rate) if cfg.ar_order else None
        self._forecast: float | None = None  # the autoregression's forecast of this sample, once trusted
        # (timestamp, value) of the last season_lag_s + season_tol_s seconds, oldest first, from _hist_start
        self._hist_t = array("d")  # 16 bytes a sample: a day of 10 s samples is 140 kB
        self._hist_x = array("d")
        self._hist_start = 0
        self._recent: deque[float] = deque()
        self._sorted: list[float] = []
        self._rare_rate = 0.0
        self._quiet_until = -1
        self._quiet_until_s = -1.0
        self._grace_until: datetime | None = None
        self._pending: tuple[int, float, datetime, float] | None = None

    def notify_event(self, kind: str, t: datetime) -> None:
        """A deployment/remediation (``kind`` is informational) at ``t``: damp scores for ``grace_s``."""
        del kind
        end = t.timestamp() + self.config.grace_s
        if self._grace_until is None or end > self._grace_until.timestamp():
            self._grace_until = datetime.fromtimestamp(end, tz=t.tzinfo)

    def score_one(self, x: float, t: datetime) -> float:
        """Anomaly score of ``(x, t)`` given everything learnt so far, in [0, 1]; 0 during warm-up."""
        raw = self._raw(x, t)
        self._pending = (self._n, x, t, raw)
        return self._damped(raw, t)

    def learn_one(self, x: float, t: datetime) -> None:
        """Update the state with ``(x, t)`` (after :meth:`score_one` of the same sample, or alone)."""
        pending = self._pending
        raw = pending[3] if pending is not None and pending[:3] == (self._n, x, t) else self._raw(x, t)
        self._pending = None
        if raw >= self.config.fire_level and not self._quiet(t):
            self._quiet_until = self._n + self.config.refractory
            self._quiet_until_s = t.timestamp() + self.config.refractory_s
        self._update(x, t)

    def process(self, x: float, t: datetime) -> float:
        """``score_one`` then ``learn_one``: the per-sample call of an online engine."""
        score = self.score_one(x, t)
        self.learn_one(x, t)
        return score

    # -- internals --------------------------------------------------------------------------------------
    def _span(self) -> float:
        span = self._hi - self._lo
        return span if span > 0.0 else (abs(self._hi) or 1.0)

    def _error(self, x: float, t: datetime) -> float:
        """The explained error, as a fraction of the range."""
        span = self._span()
        err = abs(x - self._level)
        hour = t.hour
        d = self._day.get(hour)
        if d is not None:
            err = min(err, abs(x - d))
        w = self._week.get(t.weekday() * 24 + hour)
        if w is not None:
            err = min(err, abs(x - w))
        if self._forecast is not None:
            err = min(err, abs(x - self._forecast))
        return min(err / span, 1.0)

    def _day_error(self, x: float, t: datetime) -> float | None:
        """Distance from ``x`` to the nearest value one lag earlier (+- tolerance), as a range fraction."""
        cfg = self.config
        ts = t.timestamp() - cfg.season_lag_s
        ht = self._hist_t
        a = bisect_left(ht, ts - cfg.season_tol_s, self._hist_start)
        b = bisect_right(ht, ts + cfg.season_tol_s, a)
        if b == a:
            return None
        return min([abs(x - v) for v in self._hist_x[a:b]]) / self._span()

    def _likelihood(self, x: float, t: datetime) -> float:
        """The error's likelihood score, scaled down when the value one season earlier explains ``x``
        better than the predictors do (the daily recurrence test)."""
        err = self._error(x, t)
        score = self._lik.peek(err)
        if score > 0.0 and self.config.season_lag_s:
            day = self._day_error(x, t)
            if day is not None and day < err:
                score *= day / err
        return score

    def _raw(self, x: float, t: datetime) -> float:
        cfg = self.config
        if self._n < cfg.warmup:
            return 0.0
        score = self._likelihood(x, t)
        span = self._span()
        tol = cfg.spatial_tolerance * span
        if x > self._hi + tol or x < self._lo - tol:
            base = cfg.spatial_score
            score = base + (1.0 - base) * score
        elif cfg.rare_window and self._rare_rate < cfg.rare_rate_max and self._rare(x):
            base = cfg.rare_score
            score = base + (1.0 - base) * score
        return score

    def _rare(self, x: float) -> bool:
        """No value of the recent window within ``range / (2 * rare_bins)`` of ``x``."""
        half = 0.5 * self._span() / self.config.rare_bins
        srt = self._sorted
        return bisect_right(srt, x + half) == bisect_left(srt, x - half)

    def _quiet(self, t: datetime) -> bool:
        """In the refractory period of the last firing (a sample count and a time span)."""
        return self._n <= self._quiet_until or t.timestamp() <= self._quiet_until_s

    def _damped(self, raw: float, t: datetime) -> float:
        cfg = self.config
        if self._grace_until is not None and t < self._grace_until:
            raw *= cfg.grace_damp
        if self._quiet(t):
            raw *= cfg.refractory_damp
        return raw

    def _update(self, x: float, t: datetime) -> None:
        cfg = self.config
        if self._n == 0:
            self._lo = self._hi = self._level = x
        else:
            self._lik.add(self._error(x, t))
        self._lo = min(self._lo, x)
        self._hi = max(self._hi, x)
        self._level += cfg.ewma_alpha * (x - self._level)
        hour = t.hour
        d = self._day.get(hour)
        self._day[hour] = x if d is None else d + cfg.season_alpha * (x - d)
        key = t.weekday() * 24 + hour
        w = self._week.get(key)
        self._week[key] = x if w is None else w + cfg.season_alpha * (x - w)
        if cfg.season_lag_s:
            ts = t.timestamp()
            self._hist_t.append(ts)
            self._hist_x.append(x)
            start = bisect_left(self._hist_t, ts - cfg.season_lag_s - cfg.season_tol_s, self._hist_start)
            if start > 64 and 2 * start > len(self._hist_t):  # compact now and then (amortised O(1))
                del self._hist_t[:start], self._hist_x[:start]
                start = 0
            self._hist_start = start
        if cfg.rare_window:
            if self._sorted:
                self._rare_rate += cfg.rare_rate_alpha * (float(self._rare(x)) - self._rare_rate)
            self._recent.append(x)
            insort(self._sorted, x)
            if len(self._recent) > cfg.rare_window:
                old = self._recent.popleft()
                del self._sorted[bisect_left(self._sorted, old)]
        self._n += 1
        if self._ar is not None:
            self._ar.learn(x)
            self._forecast = self._ar.forecast() if self._n > cfg.ar_start else None
