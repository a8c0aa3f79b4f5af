"""Kayenta-style comparison of a new revision's samples with the old one's (the blue-green gate).

Two judges: :class:`MannWhitneyJudge` (the ``local`` gates, below) and :class:`ThresholdJudge` (the
threshold gates of :mod:`remediation.gates`: absolute ``max`` and ``max_ratio`` x the old revision's value,
its verdict quoting both values and thresholds).

:class:`MannWhitneyJudge` fails the new revision only when all three hold:

1. **significance** — the Mann-Whitney U test says the new samples are stochastically worse than the old
   ones: ``p < alpha``. The test is one-sided in the worse direction (``alternative="greater"`` when higher is
   worse, ``"less"`` otherwise); ``two_sided=True`` uses the two-sided p-value instead (stricter, as
   Kayenta's default), the direction still coming from the effect size;
2. **effect size** — the rank-biserial correlation in the "new is worse" direction,
   ``r = 2 U_new / (n_old n_new) - 1`` (equivalently ``1 - 2 U_old / (n_old n_new)``; +1 when every new sample
   is worse than every old one, 0 for identical distributions, -1 when every new one is better), is at least
   ``min_effect_size`` — a tiny but significant shift on thousands of samples does not fail a release;
3. **tolerance** — the difference matters in the metric's own units: for ``tolerance="absolute"`` the *mean*
   rises by more than ``max_increase`` (ratios such as the error ratio: a median of a sparse error ratio is 0
   even with real errors, the mean is the ratio), for ``tolerance="relative_pct"`` the *median* rises by more
   than ``max_increase`` percent of the old median (latency).

With fewer than ``min_samples`` finite samples on either side the verdict is **inconclusive** (Kayenta's
NODATA): ``passed=True``, ``reason`` starting with ``"inconclusive"`` and ``stats["inconclusive"] == 1``; the
caller decides whether to wait for more data or let it pass (the blue-green action waits, see
:mod:`remediation.actions.bluegreen`). Non-finite samples (``NaN`` from ``0/0`` rates, ``inf``) are dropped.

Pure and deterministic: no I/O, no randomness (scipy's exact/asymptotic methods only).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Literal

from remediation.base import Verdict

__all__ = ["INCONCLUSIVE", "MannWhitneyJudge", "ThresholdJudge", "is_inconclusive"]

INCONCLUSIVE = "inconclusive"

ToleranceMode = Literal["absolute", "relative_pct"]


def is_inconclusive(verdict: Verdict) -> bool:
    """True when the judge had too few samples to decide (the verdict then passes)."""
    return verdict.stats.get(INCONCLUSIVE, 0.0) == 1.0


def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if math.isfinite(v)]


class MannWhitneyJudge:
    """Implements :class:`remediation.base.Judge`; see the module docstring for the decision rule."""

    def __init__(
        self,
        *,
        max_increase: float,
        tolerance: ToleranceMode = "relative_pct",
        alpha: float = 0.05,
        min_effect_size: float = 0.2,
        min_samples: int = 5,
        two_sided: bool = False,
    ) -> None:
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), not {alpha}")
        if not 0 <= min_effect_size <= 1:
            raise ValueError(f"min_effect_size must be in [0, 1], not {min_effect_size}")
        if max_increase < 0:
            raise ValueError(f"max_increase must be >= 0, not {max_increase}")
        if min_samples < 1:
            raise ValueError(f"min_samples must be >= 1, not {min_samples}")
        self.max_increase = max_increase
        self.tolerance: ToleranceMode = tolerance
        self.alpha = alpha
        self.min_effect_size = min_effect_size
        self.min_samples = min_samples
        self.two_sided = two_sided

    def _increase(self, old: list[float], new: list[float], sign: float) -> float:
        """How much worse new is than old in the tolerance's units (negative: better)."""
        if self.tolerance == "absolute":
            return sign * (statistics.fmean(new) - statistics.fmean(old))
        m_old, m_new = statistics.median(old), statistics.median(new)
        delta = sign * (m_new - m_old)
        if m_old == 0:
            return 0.0 if delta == 0 else math.copysign(math.inf, delta)
        return 100.0 * delta / abs(m_old)

    def judge(self, old: Sequence[float], new: Sequence[float], *, higher_is_worse: bool = True) -> Verdict:
        o, n = _finite(old), _finite(new)
        stats: dict[str, float] = {"n_old": float(len(o)), "n_new": float(len(n))}
        if len(o) < self.min_samples or len(n) < self.min_samples:
            stats[INCONCLUSIVE] = 1.0
            return Verdict(
                True,
                f"{INCONCLUSIVE}: too few samples (old {len(o)}, new {len(n)}; need {self.min_samples} each)",
                stats,
            )
        stats[INCONCLUSIVE] = 0.0
        stats |= {
            "median_old": statistics.median(o),
            "median_new": statistics.median(n),
            "mean_old": statistics.fmean(o),
            "mean_new": statistics.fmean(n),
        }
        sign = 1.0 if higher_is_worse else -1.0
        increase = self._increase(o, n, sign)
        stats["increase" if self.tolerance == "absolute" else "increase_pct"] = increase

        if len(set(o) | set(n)) == 1:  # every sample equal: no rank information at all
            p_value, effect = 1.0, 0.0
        else:
            # scipy loads in ~0.7 s: imported on first use, not when policies and configs are loaded
            from scipy.stats import mannwhitneyu  # type: ignore[import-untyped]  # noqa: PLC0415  # no stubs

            worse = "greater" if higher_is_worse else "less"
            res = mannwhitneyu(n, o, alternative="two-sided" if self.two_sided else worse)
            u_new = float(res.statistic)  # U of the first sample (new)
            p_value = float(res.pvalue)
            r_greater = 2.0 * u_new / (len(o) * len(n)) - 1.0  # rank-biserial: new > old
            effect = sign * r_greater
        stats["p_value"] = p_value
        stats["effect_size"] = effect

        unit = "" if self.tolerance == "absolute" else "%"
        what = "mean" if self.tolerance == "absolute" else "median"
        summary = (
            f"{what} {stats[f'{what}_old']:.4g} -> {stats[f'{what}_new']:.4g} "
            f"(worse by {increase:.4g}{unit}, tolerance {self.max_increase:g}{unit}), "
            f"p={p_value:.3g}, effect={effect:.3f}, n={len(o)}/{len(n)}"
        )
        significant = p_value < self.alpha
        large = effect >= self.min_effect_size
        beyond = increase > self.max_increase
        if significant and large and beyond:
            return Verdict(False, f"regression: {summary}", stats)
        why = (
            "not significant" if not significant else "effect too small" if not large else "within tolerance"
        )
        return Verdict(True, f"pass ({why}): {summary}", stats)


class ThresholdJudge:
    """Implements :class:`remediation.base.Judge` for threshold gates (``remediation.gates``): ``new`` and
    ``old`` are a gate's values over the new and the old revision's instances (their mean when several).
    Fails when new is above ``max_value``, or above ``max_ratio`` times old *and* more than
    ``min_increase`` above it. No new value (empty or NaN): inconclusive (passes). No old value: only
    ``max_value`` applies. The reason quotes the values and the thresholds."""

    def __init__(
        self,
        *,
        name: str = "value",
        max_value: float | None = None,
        max_ratio: float | None = None,
        min_increase: float = 0.0,
    ) -> None:
        if max_ratio is not None and max_ratio <= 0:
            raise ValueError(f"max_ratio must be > 0, not {max_ratio}")
        if min_increase < 0:
            raise ValueError(f"min_increase must be >= 0, not {min_increase}")
        self.name = name
        self.max_value = max_value
        self.max_ratio = max_ratio
        self.min_increase = min_increase

    def judge(self, old: Sequence[float], new: Sequence[float], *, higher_is_worse: bool = True) -> Verdict:
        o, n = _finite(old), _finite(new)
        if not n:
            return Verdict(
                True, f"{INCONCLUSIVE}: {self.name}: no value for the new revision", {INCONCLUSIVE: 1.0}
            )
        sign = 1.0 if higher_is_worse else -1.0
        v_new = statistics.fmean(n)
        stats: dict[str, float] = {INCONCLUSIVE: 0.0, "value_new": v_new}
        failed: list[str] = []
        held: list[str] = []
        if self.max_value is not None:
            stats["max"] = self.max_value
            bad = sign * (v_new - self.max_value) > 0
            (failed if bad else held).append(f"new {v_new:.4g} {'>' if bad else '<='} max {self.max_value:g}")
        if o and self.max_ratio is not None:
            v_old = statistics.fmean(o)
            limit = self.max_ratio * v_old
            stats |= {
                "value_old": v_old,
                "max_vs_baseline": self.max_ratio,
                "min_increase": self.min_increase,
            }
            bad = sign * (v_new - limit) > 0 and sign * (v_new - v_old) > self.min_increase
            text = f"{self.max_ratio:g} x baseline {v_old:.4g} (+{self.min_increase:g})"
            (failed if bad else held).append(f"new {v_new:.4g} {'>' if bad else 'within'} {text}")
        elif o:
            stats["value_old"] = statistics.fmean(o)
        if failed:
            return Verdict(False, f"regression: {self.name}: " + "; ".join(failed), stats)
        detail = "; ".join(held) or f"new {v_new:.4g}, no threshold applies"
        return Verdict(True, f"pass: {self.name}: {detail}", stats)
