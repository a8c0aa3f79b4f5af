"""Configuration of the metrics store (section ``metrics_store`` of paramedic.yaml)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["EmbeddedStoreConfig", "RemoteStoreConfig", "StoreConfig"]


class EmbeddedStoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["embedded"] = "embedded"
    path: str = Field("data/metrics", description="Directory for the DuckDB file and the write-ahead log.")
    retention_s: int = Field(15 * 86400, gt=0, description="Raw samples older than this are deleted.")


class RemoteStoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["remote"]
    write_url: str = Field(
        description="InfluxDB line-protocol endpoint base URL (InfluxDB 2/3, VictoriaMetrics)."
    )
    read_url: str = Field(description="Prometheus HTTP API base URL used for reads.")
    org: str = "paramedic"
    bucket: str = "paramedic"
    token: SecretStr | None = None


StoreConfig = Annotated[EmbeddedStoreConfig | RemoteStoreConfig, Field(discriminator="type")]
