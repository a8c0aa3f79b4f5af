"""Configuration of the collector (section ``collector`` of paramedic.yaml)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CollectorConfig",
    "FileJob",
    "JobConfig",
    "PlatformJob",
    "RelabelConfig",
    "ScrapeLimits",
    "StaticJob",
]


class RelabelConfig(BaseModel):
    """One relabeling step, with Prometheus' semantics and defaults."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep", "hashmod"] = "replace"
    source_labels: list[str] = Field(default_factory=list)
    separator: str = ";"
    regex: str = "(.*)"
    modulus: int | None = Field(None, gt=0)
    target_label: str | None = None
    replacement: str = "$1"


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
    relabel_configs: list[RelabelConfig] = Field(default_factory=list)
    metric_relabel_configs: list[RelabelConfig] = Field(default_factory=list)


class StaticJob(_JobBase):
    type: Literal["static"] = "static"
    targets: list[str] = Field(min_length=1, description="host:port of each target")
    labels: dict[str, str] = Field(default_factory=dict)


class FileJob(_JobBase):
    type: Literal["file"]
    files: list[str] = Field(min_length=1, description="JSON or YAML files in Prometheus file_sd format")
    refresh_interval_s: float = Field(30, gt=0)


class PlatformJob(_JobBase):
    """Targets discovered from the configured platform adapter (router, nodes, every app instance)."""

    type: Literal["platform"]
    refresh_interval_s: float = Field(5, gt=0)


JobConfig = Annotated[StaticJob | FileJob | PlatformJob, Field(discriminator="type")]


class CollectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval_s: float = Field(15, gt=0, description="Default scrape interval.")
    timeout_s: float = Field(10, gt=0, description="Default scrape timeout (must not exceed the interval).")
    max_body_bytes: int = Field(50 * 1024 * 1024, gt=0, description="Larger responses fail the scrape.")
    sample_limit: int = Field(0, ge=0, description="0 = no limit")
    label_limit: int = Field(0, ge=0)
    label_name_length_limit: int = Field(0, ge=0)
    label_value_length_limit: int = Field(0, ge=0)
    jobs: list[JobConfig] = Field(default_factory=list)
