"""Sixth-round candidates for NAB (issue 17), judged by ``bench/nab_members.py`` like every other member.

Each is the default detector with one change; a family's settings are the listed values, so that
``bench/nab_members.py --choose-among`` can let every training fold choose its member (a weight, a level)
instead of the author choosing it after seeing the held-out figures:

* ``level-shift-w{1.0,0.8,0.6}``: a level-shift member, ``|mean of the last 6 h - mean of the 6 days before|``
  as a fraction of the range, through its own likelihood (history 8640, no averaging, the ensemble's
  ``z / (z + 5)``), weighted and max-combined before the damping (a slow swell the EWMA follows);
* ``level-shift-floor-{6h6d,3h3d,12h6d,6h3d}-L{0.35,0.4,0.45,0.5}``: the same member as a floor instead
  (its likelihood at or above ``L`` floors the score at ``rare_score``, as the rarity test does), so the
  in-fold threshold stays the one the other floors set;
* ``rare-decay-{0.5,0.7,0.85}``: the rarity floor scaled by ``d ** k`` after ``k`` of its firings in this
  series (a series that keeps visiting new bands earns less trust each time);
* ``rare-quiet-{1d,3d,7d}``: after a firing by the rarity floor that floor stays shut for 1, 3 or 7 days (the
  other floors and the likelihood are untouched).

The windows are in seconds, turned into sample counts from the mean interval of the first 10 samples, so a
5-minute and an hourly series look back over the same hours.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime

from alerting.anomaly import EnsembleConfig, EnsembleDetector
from alerting.anomaly._likelihood import ErrorLikelihood

__all__ = ["ROUND6"]

_HOUR = 3600.0
_DAY = 86400.0


class _LevelShift(EnsembleDetector):
    """``max(score, weight * likelihood of the level shift)``."""

    weight = 1.0
    short_s = 6 * _HOUR
    long_s = 6 * _DAY

    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        self._t0: float | None = None
        self._seen = 0
        self._ns = 0  # samples in the short window (0: not known yet)
        self._nl = 0
        self._short: deque[float] = deque()
        self._long: deque[float] = deque()
        self._short_sum = 0.0
        self._long_sum = 0.0
        self._shift_lik = ErrorLikelihood(8640, 1, 0.01, 5.0)

    def _shift(self, x: float) -> float | None:
        """The level shift if ``x`` joined the short window (None until both windows are full)."""
        if not self._ns or len(self._long) < self._nl:
            return None
        moved = self._short[0]
        short = (self._short_sum + x - moved) / self._ns
        long = (self._long_sum + moved - self._long[0]) / self._nl
        return abs(short - long) / self._span()

    def _member(self, x: float) -> float:
        shift = self._shift(x)
        return 0.0 if shift is None else self._shift_lik.peek(shift)

    def _raw(self, x: float, t: datetime) -> float:
        score = super()._raw(x, t)
        if self._n < self.config.warmup:
            return score
        return max(score, self.weight * self._member(x))

    def _sizes(self, t: datetime) -> None:
        ts = t.timestamp()
        if self._t0 is None:
            self._t0 = ts
            return
        self._seen += 1
        if self._seen == 10:
            step = (ts - self._t0) / self._seen
            self._ns = max(2, round(self.short_s / step)) if step > 0.0 else 2
            self._nl = max(4, round(self.long_s / step)) if step > 0.0 else 4

    def _update(self, x: float, t: datetime) -> None:
        shift = self._shift(x)
        if shift is not None:
            self._shift_lik.add(shift)
        if not self._ns:
            self._sizes(t)
        if self._ns:
            self._short.append(x)
            self._short_sum += x
            if len(self._short) > self._ns:
                moved = self._short.popleft()
                self._short_sum -= moved
                self._long.append(moved)
                self._long_sum += moved
                if len(self._long) > self._nl:
                    self._long_sum -= self._long.popleft()
        super()._update(x, t)


class _LevelShiftFloor(_LevelShift):
    """The level shift's likelihood at or above ``level`` floors the score at ``rare_score``."""

    level = 0.4

    def _raw(self, x: float, t: datetime) -> float:
        score = EnsembleDetector._raw(self, x, t)
        if self._n < self.config.warmup or self._member(x) < self.level:
            return score
        base = self.config.rare_score
        return base + (1.0 - base) * score


class _RareFloorControl(EnsembleDetector, ABC):
    """The default's ``_raw`` with a hook on the rarity floor: :meth:`_rare_base` (None: no floor)."""

    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(EnsembleConfig())
        self._rare_hit = False  # the rarity floor applied to the pending sample

    @abstractmethod
    def _rare_base(self, t: datetime) -> float | None: ...

    @abstractmethod
    def _rare_fired(self, t: datetime) -> None: ...

    def _raw(self, x: float, t: datetime) -> float:
        cfg = self.config
        self._rare_hit = False
        if self._n < cfg.warmup:
            return 0.0
        score = self._raw_without_rarity(x, t)
        tol = cfg.spatial_tolerance * self._span()
        if x > self._hi + tol or x < self._lo - tol:
            return score  # the range floor: the rarity test is not reached (as in the default)
        if cfg.rare_window and self._rare_rate < cfg.rare_rate_max and self._rare(x):
            base = self._rare_base(t)
            if base is not None:
                self._rare_hit = True
                return base + (1.0 - base) * score
        return score

    def _raw_without_rarity(self, x: float, t: datetime) -> float:
        """The likelihood (after the daily recurrence test) and the range floor."""
        cfg = self.config
        score = self._likelihood(x, t)
        tol = cfg.spatial_tolerance * self._span()
        if x > self._hi + tol or x < self._lo - tol:
            base = cfg.spatial_score
            score = base + (1.0 - base) * score
        return score

    def learn_one(self, x: float, t: datetime) -> None:
        pending = self._pending
        raw = pending[3] if pending is not None and pending[:3] == (self._n, x, t) else self._raw(x, t)
        if self._rare_hit and raw >= self.config.fire_level and not self._quiet(t):
            self._rare_fired(t)
        super().learn_one(x, t)


class _RareDecay(_RareFloorControl):
    decay = 0.7

    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(values)
        self._firings = 0

    def _rare_base(self, t: datetime) -> float | None:
        return self.config.rare_score * self.decay**self._firings

    def _rare_fired(self, t: datetime) -> None:
        self._firings += 1


class _RareQuiet(_RareFloorControl):
    quiet_s = _DAY

    def __init__(self, values: Sequence[float]) -> None:
        super().__init__(values)
        self._shut_until = float("-inf")

    def _rare_base(self, t: datetime) -> float | None:
        return None if t.timestamp() <= self._shut_until else self.config.rare_score

    def _rare_fired(self, t: datetime) -> None:
        self._shut_until = t.timestamp() + self.quiet_s


Member = Callable[[Sequence[float]], EnsembleDetector]


def _family() -> dict[str, Member]:
    out: dict[str, Member] = {}
    for w in (1.0, 0.8, 0.6):
        out[f"level-shift-w{w}"] = type("_LevelShiftW", (_LevelShift,), {"weight": w})
    for short_h, long_d in ((6, 6), (3, 3), (12, 6), (6, 3)):
        for level in (0.35, 0.4, 0.45, 0.5):
            attrs = {"level": level, "short_s": short_h * _HOUR, "long_s": long_d * _DAY}
            out[f"level-shift-floor-{short_h}h{long_d}d-L{level}"] = type(
                "_Floor", (_LevelShiftFloor,), attrs
            )
    for d in (0.5, 0.7, 0.85):
        out[f"rare-decay-{d}"] = type("_Decay", (_RareDecay,), {"decay": d})
    for days in (1, 3, 7):
        out[f"rare-quiet-{days}d"] = type("_Quiet", (_RareQuiet,), {"quiet_s": days * _DAY})
    return out


ROUND6: dict[str, Member] = _family()
