"""An ensemble detector: several predictors, each error scored by its own likelihood, combined by max.

Per sample ``(x, t)``, with ``x`` normalised by the range seen so far:

1. **Predictors** — an EWMA level and seasonal baselines per hour-of-day and hour-of-week; their *smallest*
   error is the "explained" error (a daily peak is explained by the daily baseline).
2. **Rate of change** — ``|x - x_prev|`` is a second error stream (a sudden step or spike); off by default.
3. **Likelihood** of each stream (:class:`ErrorLikelihood`): the short-term mean error standardised against a
   long running Gaussian of that stream, mapped monotonically to [0, 1) as ``z / (z + z_scale)``.
4. **Novelty** — a value outside the range seen so far (with a tolerance) scores at least ``spatial_score``;
   a value in a band of the range that the recent window hardly visited scores ``rare_score``.
5. **Combine** by max, then **damp**: a refractory period after a firing (``refractory`` samples and
   ``refractory_s`` seconds, whichever ends later: a fixed span, causal), and the grace period
   after :meth:`notify_event`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from alerting.anomaly._likelihood import ErrorLikelihood

__all__ = ["EnsembleConfig", "EnsembleDetector"]


@dataclass(frozen=True, slots=True)
class EnsembleConfig:
    """One configuration for every series (chosen once on the NAB subset, never per file)."""

    warmup: int = 150
    ewma_alpha: float = 0.1
    season_alpha: float = 0.3
    long_window: int = 2000  # samples in each error distribution
    short_mean: int = 3
    min_std: float = 0.01
    z_scale: float = 5.0
    use_diff: bool = False
    diff_short: int = 1
    diff_weight: float = 1.0
    spatial_tolerance: float = 0.06  # fraction of the range beyond which a value is new territory
    spatial_score: float = 0.5
    rare_window: int = 3000  # recent values the rarity test looks at (0: off)
    rare_bins: int = 20  # a value is rare if no recent value is within range / (2 * rare_bins)
    rare_min: int = 600  # samples seen before the rarity test (0: a full window)
    rare_frac: float = 0.0  # ... or at most this fraction of them
    rare_score: float = 0.45  # floor of the score of a rare value
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
        self._prev = 0.0
        self._level = 0.0
        self._day: dict[int, float] = {}
        self._week: dict[int, float] = {}
        self._lik = ErrorLikelihood(cfg.long_window, cfg.short_mean, cfg.min_std, cfg.z_scale)
        self._dlik = ErrorLikelihood(cfg.long_window, cfg.diff_short, cfg.min_std, cfg.z_scale)
        self._recent: deque[float] = deque()
        self._sorted: list[float] = []
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

    def _errors(self, x: float, t: datetime) -> tuple[float, float]:
        span = self._span()
        err = abs(x - self._level)
        hour = t.hour
        d = self._day.get(hour)
        if d is not None:
            err = min(err, abs(x - d))
        w = self._week.get(t.weekday() * 24 + hour)
        if w is not None:
            err = min(err, abs(x - w))
        return min(err / span, 1.0), min(abs(x - self._prev) / span, 1.0)

    def _raw(self, x: float, t: datetime) -> float:
        cfg = self.config
        if self._n < cfg.warmup:
            return 0.0
        err, derr = self._errors(x, t)
        score = self._lik.peek(err)
        if cfg.use_diff:
            score = max(score, cfg.diff_weight * self._dlik.peek(derr))
        span = self._span()
        tol = cfg.spatial_tolerance * span
        if x > self._hi + tol or x < self._lo - tol:
            base = cfg.spatial_score
            score = base + (1.0 - base) * score
        elif cfg.rare_window and len(self._recent) >= (cfg.rare_min or cfg.rare_window):
            half = 0.5 * span / cfg.rare_bins
            srt = self._sorted
            near = bisect_right(srt, x + half) - bisect_left(srt, x - half)
            if near <= cfg.rare_frac * len(srt):
                base = cfg.rare_score
                score = base + (1.0 - base) * score
        return score

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
            self._lo = self._hi = self._level = self._prev = x
        else:
            err, derr = self._errors(x, t)
            self._lik.add(err)
            self._dlik.add(derr)
        self._lo = min(self._lo, x)
        self._hi = max(self._hi, x)
        self._level += cfg.ewma_alpha * (x - self._level)
        self._prev = x
        hour = t.hour
        d = self._day.get(hour)
        self._day[hour] = x if d is None else d + cfg.season_alpha * (x - d)
        key = t.weekday() * 24 + hour
        w = self._week.get(key)
        self._week[key] = x if w is None else w + cfg.season_alpha * (x - w)
        if cfg.rare_window:
            self._recent.append(x)
            insort(self._sorted, x)
            if len(self._recent) > cfg.rare_window:
                old = self._recent.popleft()
                del self._sorted[bisect_left(self._sorted, old)]
        self._n += 1
