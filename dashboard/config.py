"""Configuration of the dashboard (section ``dashboard`` of paramedic.yaml; every key optional)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DashboardConfig"]


class DashboardConfig(BaseModel):
    """What the pages show beyond the platform's views (:func:`dashboard.views.views_for`)."""

    model_config = ConfigDict(extra="forbid")

    memory_chunk_mib: int = Field(
        1024,
        ge=64,
        le=1024 * 1024,
        description=(
            "Cloud Foundry overview: the memory of a typical app instance (MiB). Cell capacity is shown as "
            "how many more instances of this size fit (floor(remaining memory / chunk) summed over cells)."
        ),
    )
