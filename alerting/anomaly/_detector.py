"""The default per-series detector: an ensemble of simple predictors, error likelihoods, then damping.

Per sample ``(x, t)``:

1. **Normalise** by the range seen so far (cold start: nothing is scored during ``warmup`` samples).
2. **Predict** with an ensemble — an EWMA level and seasonal baselines per hour-of-day and per hour-of-week
   (an EWMA per slot, used once the slot has been seen) — and take the *smallest* error: a value that any
   predictor explains is not surprising (a daily peak is explained by the daily baseline).
3. **Likelihood** of that error (:class:`ErrorLikelihood`: the mean of the last few errors against a running
   Gaussian of recent ones), plus a *spatial* check: a value outside the range seen so far (with a
   tolerance) is surprising on its own and scores at least ``spatial_score``.
4. **Damp**: after the score reaches ``fire_level`` the next ``refractory`` samples are damped (one alarm per
   incident, not a storm), and so are samples in the grace period started by :meth:`notify_event` (a
   deployment or remediation shifts the series on purpose).

``score_one`` is side-effect free; ``learn_one`` updates the state. :meth:`process` does both for one sample
and is what the engine and ``paramedic anomaly score`` call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from alerting.anomaly._likelihood import ErrorLikelihood

__all__ = ["DetectorConfig", "SeasonalDetector"]


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """One configuration for every series (chosen once on the NAB subset, never per file)."""

    warmup: int = 150  # samples scored 0 while the baselines fill (cold start)
    ewma_alpha: float = 0.1  # level predictor
    season_alpha: float = 0.3  # per-slot EWMA across days/weeks
    long_window: int = 500  # samples in the error distribution
    short_mean: int = 3  # samples averaged before the tail test
    min_std: float = 0.01  # floor of the error std (relative to the range), so flat series stay quiet
    z_scale: float = 5.0  # score = z / (z + z_scale)
    spatial_tolerance: float = 0.03  # fraction of the range beyond which a value is new territory
    spatial_score: float = 0.5  # floor of the score of a value in new territory
    fire_level: float = 0.45  # a score this high starts the refractory period
    refractory: int = 60  # samples damped after a firing
    refractory_damp: float = 0.0
    grace_s: float = 900.0  # after notify_event
    grace_damp: float = 0.2


class SeasonalDetector:
    """Streaming detector for one series. Not thread-safe: one instance per series, one writer."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = cfg = config or DetectorConfig()
        self._n = 0
        self._lo = 0.0
        self._hi = 0.0
        self._level = 0.0
        self._day: dict[int, float] = {}
        self._week: dict[int, float] = {}
        self._lik = ErrorLikelihood(cfg.long_window, cfg.short_mean, cfg.min_std, cfg.z_scale)
        self._quiet_until = -1  # sample index until which scores are damped (refractory)
        self._grace_until: datetime | None = None
        self._pending: tuple[int, float, datetime, float] | None = None  # (index, x, t, raw) of score_one

    # -- the seam ---------------------------------------------------------------------------------------
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
        if raw >= self.config.fire_level and self._n > self._quiet_until:
            self._quiet_until = self._n + self.config.refractory
        self._update(x, t)

    def process(self, x: float, t: datetime) -> float:
        """``score_one`` then ``learn_one``: the per-sample call of an online engine."""
        score = self.score_one(x, t)
        self.learn_one(x, t)
        return score

    # -- internals --------------------------------------------------------------------------------------
    def _errors(self, x: float, t: datetime) -> tuple[float, float]:
        """(ensemble error, spatial surprise) of ``x``, both relative to the range seen so far."""
        cfg = self.config
        span = self._hi - self._lo
        if span <= 0.0:
            span = abs(self._hi) or 1.0
        err = abs(x - self._level)
        hour = t.hour
        d = self._day.get(hour)
        if d is not None:
            err = min(err, abs(x - d))
        w = self._week.get(t.weekday() * 24 + hour)
        if w is not None:
            err = min(err, abs(x - w))
        tol = cfg.spatial_tolerance * span
        spatial = 1.0 if (x > self._hi + tol or x < self._lo - tol) else 0.0
        return min(err / span, 1.0), spatial

    def _raw(self, x: float, t: datetime) -> float:
        if self._n < self.config.warmup:
            return 0.0
        err, spatial = self._errors(x, t)
        score = self._lik.peek(err)
        if spatial:
            base = self.config.spatial_score
            score = base + (1.0 - base) * score
        return score

    def _damped(self, raw: float, t: datetime) -> float:
        cfg = self.config
        if self._grace_until is not None and t < self._grace_until:
            raw *= cfg.grace_damp
        if self._n <= self._quiet_until:
            raw *= cfg.refractory_damp
        return raw

    def _update(self, x: float, t: datetime) -> None:
        cfg = self.config
        if self._n == 0:
            self._lo = self._hi = self._level = x
        else:
            err, _ = self._errors(x, t)
            self._lik.add(err)
        self._lo = min(self._lo, x)
        self._hi = max(self._hi, x)
        self._level += cfg.ewma_alpha * (x - self._level)
        hour = t.hour
        d = self._day.get(hour)
        self._day[hour] = x if d is None else d + cfg.season_alpha * (x - d)
        key = t.weekday() * 24 + hour
        w = self._week.get(key)
        self._week[key] = x if w is None else w + cfg.season_alpha * (x - w)
        self._n += 1
