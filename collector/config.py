"""Configuration of the collector (section ``collector`` of paramedic.yaml).

Field names follow Prometheus' ``scrape_config`` with units in the names (``interval_s``, ``max_body_bytes``).
Relabel steps are validated at load (regex compiles, required keys per action): a bad rule names its key.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from metrics_store.names import EscapingScheme
from metrics_store.regex import RegexError, compile_anchored

__all__ = [
    "CollectorConfig",
    "FileJob",
    "JobConfig",
    "PlatformJob",
    "RelabelAction",
    "RelabelConfig",
    "ScrapeLimits",
    "StaticJob",
]

RelabelAction = Literal["replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep", "hashmod"]
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class RelabelConfig(BaseModel):
    """One relabeling step, with Prometheus' semantics and defaults."""

    model_config = ConfigDict(extra="forbid")

    action: RelabelAction = "replace"
    source_labels: list[str] = Field(default_factory=list)
    separator: str = ";"
    regex: str = "(.*)"
    modulus: int | None = Field(None, gt=0)
    target_label: str | None = None
    replacement: str = "$1"

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str) -> str:
        try:
            compile_anchored(value)  # RE2, as Prometheus (Go's regexp)
        except RegexError as exc:
            raise ValueError(f"not a valid regular expression: {exc.reason}") from exc
        return value

    @field_validator("source_labels")
    @classmethod
    def _source_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _LABEL_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid label name")
        return value

    @model_validator(mode="after")
    def _required_per_action(self) -> RelabelConfig:
        if self.action in ("replace", "hashmod") and not self.target_label:
            raise ValueError(f"action {self.action} needs target_label")
        if self.action == "hashmod" and self.modulus is None:
            raise ValueError("action hashmod needs modulus")
        if self.action in ("labeldrop", "labelkeep") and (self.source_labels or self.target_label):
            raise ValueError(f"action {self.action} uses only regex (remove source_labels/target_label)")
        return self


class ScrapeLimits(BaseModel):
    """Per-job scrape settings; unset values inherit the collector-wide defaults."""

    model_config = ConfigDict(extra="forbid")

    interval_s: float | None = Field(None, gt=0)
    timeout_s: float | None = Field(None, gt=0)
    max_body_bytes: int | None = Field(None, gt=0)
    sample_limit: int | None = Field(None, ge=0, description="0 = no limit")
    label_limit: int | None = Field(None, ge=0, description="max labels per series; 0 = no limit")
    label_name_length_limit: int | None = Field(None, ge=0)
    label_value_length_limit: int | None = Field(None, ge=0)


class _JobBase(ScrapeLimits):
    name: str = Field(min_length=1, description="The job label of every target in this job.")
    scheme: Literal["http", "https"] = "http"
    metrics_path: str = "/metrics"
    honor_labels: bool = Field(
        False, description="false: target labels win, clashing exposed labels become exported_<name>."
    )
    honor_timestamps: bool = Field(True, description="Use timestamps the target exposes.")
    relabel_configs: list[RelabelConfig] = Field(default_factory=list)
    metric_relabel_configs: list[RelabelConfig] = Field(default_factory=list)


class StaticJob(_JobBase):
    type: Literal["static"] = "static"
    targets: list[str] = Field(min_length=1, description="host:port of each target")
    labels: dict[str, str] = Field(default_factory=dict)


class FileJob(_JobBase):
    type: Literal["file"]
    files: list[str] = Field(
        min_length=1,
        description="JSON or YAML files in Prometheus file_sd format (globs allowed; relative to the "
        "config file's folder)",
    )
    refresh_interval_s: float = Field(30, gt=0)


class PlatformJob(_JobBase):
    """Targets discovered from the configured platform adapter (router, nodes, every app instance)."""

    type: Literal["platform"]
    refresh_interval_s: float = Field(5, gt=0)


JobConfig = Annotated[StaticJob | FileJob | PlatformJob, Field(discriminator="type")]


class CollectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval_s: float = Field(15, gt=0, description="Default scrape interval.")
    timeout_s: float = Field(10, gt=0, description="Default scrape timeout (capped at the interval).")
    max_body_bytes: int = Field(50 * 1024 * 1024, gt=0, description="Larger responses fail the scrape.")
    sample_limit: int = Field(0, ge=0, description="0 = no limit")
    label_limit: int = Field(0, ge=0)
    label_name_length_limit: int = Field(0, ge=0)
    label_value_length_limit: int = Field(0, ge=0)
    metric_name_validation_scheme: Literal["utf8", "legacy"] = Field(
        "utf8",
        description="Prometheus 3's option: utf8 accepts quoted UTF-8 metric and label names in scraped "
        "bodies; legacy refuses a body with a name outside [a-zA-Z_:][a-zA-Z0-9_:]*.",
    )
    metric_name_escaping_scheme: EscapingScheme | None = Field(
        None,
        description="What a scrape asks the target to do with UTF-8 names (escaping= in Accept): "
        "allow-utf-8, underscores, dots or values; default allow-utf-8 with utf8 validation, "
        "else underscores.",
    )
    jobs: list[JobConfig] = Field(default_factory=list)

    @field_validator("metric_name_escaping_scheme")
    @classmethod
    def _escaping_fits_validation(
        cls, value: EscapingScheme | None, info: ValidationInfo
    ) -> EscapingScheme | None:
        if value == "allow-utf-8" and info.data.get("metric_name_validation_scheme") == "legacy":
            raise ValueError(
                "allow-utf-8 needs metric_name_validation_scheme: utf8 (fix: underscores, dots or values)"
            )
        return value

    def escaping(self) -> EscapingScheme:
        """The escaping scheme scrapes ask for (the configured one, else the validation scheme's default)."""
        if self.metric_name_escaping_scheme is not None:
            return self.metric_name_escaping_scheme
        return "allow-utf-8" if self.metric_name_validation_scheme == "utf8" else "underscores"

    @field_validator("jobs")
    @classmethod
    def _unique_job_names(
        cls, jobs: list[StaticJob | FileJob | PlatformJob]
    ) -> list[StaticJob | FileJob | PlatformJob]:
        seen: set[str] = set()
        for job in jobs:
            if job.name in seen:
                raise ValueError(f"job name {job.name!r} is used twice (fix: give every job its own name)")
            seen.add(job.name)
        return jobs
