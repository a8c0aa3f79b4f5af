"""Configuration of the PromQL engine's language (section ``promql`` of paramedic.yaml)::

    promql:
      semantics: "3"                  # "3" (default): Prometheus 3.x; "2": Prometheus 2.42
      experimental_functions: false   # [--enable-feature=promql-experimental-functions] 3.x only

What the two differ in: :mod:`metrics_store.promql.semantics`. The engine's limits live in
``metrics_store.query`` (:class:`metrics_store.config.QueryLimits`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from metrics_store.promql.semantics import Semantics, SemanticsVersion, semantics_for

__all__ = ["PromqlConfig"]


class PromqlConfig(BaseModel):
    """Which Prometheus' PromQL the engine speaks, everywhere it is used (query API, rules, dashboard,
    remediation, SLOs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    semantics: SemanticsVersion = Field(
        "3",
        description='"3": Prometheus 3.x (left-open ranges, regex `.` matches newlines, quoted UTF-8 names, '
        'double_exponential_smoothing; scrapes store le/quantile values normalised, le="1" as "1.0"); '
        '"2": Prometheus 2.42.',
    )
    experimental_functions: bool = Field(
        False,
        description="Prometheus 3's promql-experimental-functions feature flag "
        '(double_exponential_smoothing); needs semantics "3".',
    )

    @field_validator("semantics", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value in (2, 3):
            return str(value)  # `semantics: 3` written without quotes
        if isinstance(value, str) and value in ("2", "3"):
            return value
        raise ValueError(f'must be "3" (Prometheus 3.x) or "2" (Prometheus 2.42), got {value!r}')

    @field_validator("experimental_functions")
    @classmethod
    def _flag_needs_3(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("semantics") == "2":
            raise ValueError(
                'needs semantics "3" (Prometheus 2.42 has no such flag: holt_winters is a standard function '
                "there)"
            )
        return value

    def to_semantics(self) -> Semantics:
        return semantics_for(self.semantics, experimental_functions=self.experimental_functions)
