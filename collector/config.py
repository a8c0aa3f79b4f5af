"""Configuration of the collector (section ``collector`` of paramedic.yaml).

Field names follow Prometheus' ``scrape_config`` with units in the names (``interval_s``, ``max_body_bytes``).
Relabel steps are validated at load (regex compiles, required keys per action): a bad rule names its key.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from collector.http_config import HTTPClientConfig
from metrics_store.names import EscapingScheme
from metrics_store.regex import RegexError, compile_anchored

__all__ = [
    "CollectorConfig",
    "FileJob",
    "JobConfig",
    "PlatformJob",
    "PushConfig",
    "RelabelAction",
    "RelabelConfig",
    "ScrapeLimits",
    "StaticGroup",
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

    @field_validator("regex", "replacement", "separator", mode="before")
    @classmethod
    def _scalar_as_text(cls, value: object) -> object:
        """``regex: 1`` in YAML is the number 1; Prometheus reads every scalar here as text."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

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


class _JobBase(ScrapeLimits, HTTPClientConfig):
    name: str = Field(min_length=1, description="The job label of every target in this job.")
    scheme: Literal["http", "https"] = "http"
    metrics_path: str = "/metrics"
    honor_labels: bool = Field(
        False, description="false: target labels win, clashing exposed labels become exported_<name>."
    )
    honor_timestamps: bool = Field(True, description="Use timestamps the target exposes.")
    params: dict[str, list[str]] = Field(
        default_factory=dict, description="URL query parameters of every scrape (Prometheus' params)."
    )
    relabel_configs: list[RelabelConfig] = Field(default_factory=list)
    metric_relabel_configs: list[RelabelConfig] = Field(default_factory=list)

    @field_validator("params")
    @classmethod
    def _one_value(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, values in v.items():
            if len(values) != 1:
                raise ValueError(f"{name}: exactly one value per parameter is supported")
        return v


class StaticGroup(BaseModel):
    """One entry of Prometheus' ``static_configs``."""

    model_config = ConfigDict(extra="forbid")

    targets: list[str] = Field(default_factory=list, description="host:port of each target")
    labels: dict[str, str] = Field(default_factory=dict)


class StaticJob(_JobBase):
    type: Literal["static"] = "static"
    targets: list[str] = Field(default_factory=list, description="host:port of each target")
    labels: dict[str, str] = Field(default_factory=dict)
    static_configs: list[StaticGroup] = Field(
        default_factory=list, description="Further target groups, each with its labels (Prometheus' form)."
    )

    @model_validator(mode="after")
    def _some_target(self) -> StaticJob:
        if not self.targets and not any(g.targets for g in self.static_configs):
            raise ValueError("needs at least one target (targets or static_configs[].targets)")
        return self


class FileJob(_JobBase):
    type: Literal["file"]
    files: list[str] = Field(
        min_length=1,
        description="JSON or YAML files in Prometheus file_sd format (globs allowed; relative to the "
        "config file's folder)",
    )
    refresh_interval_s: float = Field(30, gt=0)
    static_configs: list[StaticGroup] = Field(
        default_factory=list, description="Fixed target groups scraped beside the files' (Prometheus' form)."
    )


class PlatformJob(_JobBase):
    """Targets discovered from the configured platform adapter (router, nodes, every app instance)."""

    type: Literal["platform"]
    refresh_interval_s: float = Field(5, gt=0)


class PushConfig(BaseModel):
    """``collector.push``: the receivers of pushed metrics (Prometheus remote write at ``/api/v1/write``,
    OTLP/HTTP at ``/api/v1/otlp/v1/metrics`` and ``/api/v1/otlp/v1/logs``) and the limits of what a request
    may carry. The compressed body size is ``server.limits`` (``/api/v1/write``, ``/api/v1/otlp/``)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="false: the push routes answer 404.")
    max_decompressed_bytes: int = Field(
        64 * 1024 * 1024, gt=0, description="Larger bodies are refused (413)."
    )
    max_series_per_request: int = Field(100_000, gt=0)
    max_samples_per_request: int = Field(1_000_000, gt=0)
    label_limit: int = Field(128, gt=0, description="max labels per series")
    label_name_length_limit: int = Field(1024, gt=0)
    label_value_length_limit: int = Field(16 * 1024, gt=0)
    max_log_records_per_request: int = Field(100_000, gt=0)
    max_log_message_bytes: int = Field(128 * 1024, gt=0, description="A longer OTLP log body is truncated.")
    promote_resource_attributes: list[str] = Field(
        default_factory=list,
        description="OTLP resource attributes copied onto every series (as Prometheus 3's otlp section); "
        "org/space/app (and cloudfoundry.org.name, cloudfoundry.space.name, cloudfoundry.app.name) "
        "always are.",
    )


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
    prometheus_config: str | None = Field(
        None,
        min_length=1,
        description="A Prometheus prometheus.yml (relative to this file's folder) whose scrape_configs are "
        "scraped too, read unchanged; keys Paramedic does not support are named at load.",
    )
    push: PushConfig = Field(default_factory=PushConfig)

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
