"""Configuration of the platform adapter (section ``platform`` of paramedic.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LocalPlatformConfig", "PlatformConfig"]


class LocalPlatformConfig(BaseModel):
    """The local platform: HAProxy router + supervisord cells + node exporter (see platforms/local)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["local"]
    state_dir: str = Field(description="The local platform's state directory (written by `paramedic demo`).")
    timeout_s: float = Field(5.0, gt=0, description="Timeout of each call to HAProxy's runtime API.")


# Add more platform types as a tagged union (discriminator "type") when a second adapter lands.
PlatformConfig = LocalPlatformConfig
