"""Typed ``params:`` of the Paramedic rule kinds (validated at load; unknown keys are errors).

Durations are Prometheus duration strings (``5m``); comparison operators are ``>``, ``>=``, ``<``, ``<=``.
See docs/rules.md for the YAML of each kind.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerting.rules._duration import parse_duration_ms

__all__ = [
    "KIND_PARAMS",
    "AbsenceParams",
    "AccelerationParams",
    "AnomalyParams",
    "CompositeParams",
    "ForecastParams",
    "LogPatternParams",
    "RateOfChangeParams",
    "ThresholdParams",
]

Op = Literal[">", ">=", "<", "<="]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _dur(v: str) -> str:
    parse_duration_ms(v)
    return v


class ThresholdParams(_Params):
    op: Op = ">"
    fire: float
    resolve: float | None = None  # default: same as fire (no hysteresis)

    @model_validator(mode="after")
    def _hysteresis(self) -> ThresholdParams:
        if self.resolve is not None:
            wrong = self.resolve > self.fire if self.op in (">", ">=") else self.resolve < self.fire
            if wrong:
                side = "above" if self.op in (">", ">=") else "below"
                raise ValueError(
                    f"resolve level {self.resolve} must not be {side} the fire level {self.fire}"
                )
        return self


class RateOfChangeParams(_Params):
    window: str = "5m"
    step: str = "1m"
    op: Op = ">"
    threshold: float  # per second
    _v = field_validator("window", "step")(_dur)


class AccelerationParams(_Params):
    window: str = "10m"
    step: str = "1m"
    op: Op = ">"
    threshold: float  # per second squared
    m: int = Field(3, ge=1)
    n: int = Field(5, ge=1)
    _v = field_validator("window", "step")(_dur)

    @model_validator(mode="after")
    def _mn(self) -> AccelerationParams:
        if self.m > self.n:
            raise ValueError(f"m ({self.m}) must not exceed n ({self.n})")
        return self


class AbsenceParams(_Params):
    after: str = "5m"  # a series unseen this long is absent
    forget: str = "1h"  # ... and forgotten (no longer alerted) after this long
    _v = field_validator("after", "forget")(_dur)


class ForecastParams(_Params):
    window: str = "1h"
    step: str = "1m"
    method: Literal["linear", "holt_winters"] = "linear"
    exhaustion: float = 0.0  # the level that means "exhausted" (e.g. 0 bytes free)
    within: str = "4h"  # fire when the forecast reaches it sooner than this
    alpha: float = Field(0.5, gt=0, lt=1)
    beta: float = Field(0.3, gt=0, lt=1)
    _v = field_validator("window", "step", "within")(_dur)


class AnomalyParams(_Params):
    detector: str  # a name in the RuleManager's detector factories
    threshold: float = Field(0.9, ge=0, le=1)
    # each selected series keeps a detector (~150-250 KiB for the default one): a selection of more series
    # fails the evaluation (like a group's ``limit``), and a series unseen for ``forget`` loses its detector
    max_series: int = Field(1000, ge=1, le=100_000)
    forget: str = "1d"
    _v = field_validator("forget")(_dur)


class LogPatternParams(_Params):
    mode: Literal["new", "rising"] = "new"
    window: str = "10m"  # "new": first seen within this window; "rising": rate over this window
    baseline: str = "1d"  # compared with this much history before the window
    factor: float = Field(3.0, gt=0)  # "rising": rate above factor x baseline rate
    min_rate: float = 0.0  # "rising": and above this many messages per second
    _v = field_validator("window", "baseline")(_dur)


class CompositeParams(_Params):
    all: list[str] = []
    any: list[str] = []
    none: list[str] = []
    by: list[str] = []  # labels joining the rules' alerts (empty: one alert for the whole rule set)

    @model_validator(mode="after")
    def _some(self) -> CompositeParams:
        if not self.all and not self.any:
            raise ValueError("give at least one rule in 'all' or 'any'")
        return self


KIND_PARAMS: dict[str, type[_Params]] = {
    "threshold": ThresholdParams,
    "rate_of_change": RateOfChangeParams,
    "acceleration": AccelerationParams,
    "absence": AbsenceParams,
    "forecast": ForecastParams,
    "anomaly": AnomalyParams,
    "log_pattern": LogPatternParams,
    "composite": CompositeParams,
}
