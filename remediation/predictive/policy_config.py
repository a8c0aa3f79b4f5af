"""The ``predictive:`` block of a ``scale`` policy: scale ahead of a forecast load. Example::

    policies:
      - name: checkout-ahead
        trigger: {}                      # a predictive policy runs every `interval`; no alert needed
        target: {app: checkout}          # or predictive.apps: [checkout, catalog]
        action: {type: scale, min_instances: 1, max_instances: 6}
        predictive:
          query: 'sum(rate(haproxy_backend_http_requests_total{proxy="$app"}[1m]))'
          capacity_per_instance: 20      # load units (req/s) one instance serves at 100 %
          target_utilization: 0.7
          startup: 2m                    # forecast horizon: at least one instance start-up
          interval: 1m
          history: 2d
          season: 1d                     # the forecaster's period (seasonal-naive baseline)
          mode: hybrid                   # or predictive
          max_error: 0.25                # hybrid: reactive when recent forecast error is above this

The policy asks for ``ceil(forecast / (capacity_per_instance * target_utilization))`` instances, clamped to
the action's ``min_instances``..``max_instances`` (see :mod:`remediation.predictive.policy`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alerting.dispatch.config import Duration

__all__ = ["MAX_HISTORY_POINTS", "PredictiveSpec"]

MAX_HISTORY_POINTS = 11_000  # points of one history read (history / interval), Prometheus' own range limit


class PredictiveSpec(BaseModel):
    """Predictive mode of a ``scale`` policy: forecast each app's load ``startup`` ahead and scale to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str = Field(
        min_length=1,
        max_length=4096,
        description="PromQL of one app's load (request rate, CPU); `$app` is replaced by the app's name. "
        "Its result is summed to one number per evaluation.",
    )
    apps: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Apps to scale (default: target.app).",
    )
    capacity_per_instance: float = Field(
        gt=0, description="Load one instance serves at 100 % utilisation (same unit as `query`)."
    )
    target_utilization: float = Field(0.7, gt=0, le=1, description="Utilisation to hold, 0 < u <= 1.")
    startup: Duration = Field(
        120.0, description="Forecast horizon: at least one instance's start-up time (s or duration)."
    )
    interval: Duration = Field(60.0, description="How often the policy forecasts and decides.")
    history: Duration = Field(172_800.0, description="History the forecaster is trained on.")
    season: Duration = Field(86_400.0, description="The load's period (a day; compressed in the demo).")
    mode: Literal["predictive", "hybrid"] = Field(
        "hybrid",
        description="predictive: the forecast alone; hybrid: never below the reactive count, and reactive "
        "while the recent forecast error is above max_error.",
    )
    max_error: float = Field(
        0.25,
        gt=0,
        description="Hybrid confidence gate: the weighted absolute percentage error of the recent matured "
        "forecasts (sum |forecast - actual| / sum |actual|) above which the forecast is not used.",
    )
    error_window: int = Field(
        10, ge=1, le=1000, description="Matured forecasts (forecast vs the actual that arrived) in the error."
    )

    @model_validator(mode="after")
    def _consistent(self) -> PredictiveSpec:
        if self.interval < 1.0:
            raise ValueError("interval: at least 1s")
        if self.startup <= 0:
            raise ValueError("startup: must be positive")
        if self.history < self.season:
            raise ValueError("history: shorter than season (the model needs at least one whole season)")
        if self.history / self.interval > MAX_HISTORY_POINTS:
            raise ValueError(
                f"history: {self.history:g}s / interval {self.interval:g}s is more than "
                f"{MAX_HISTORY_POINTS} points (raise interval or shorten history)"
            )
        return self
