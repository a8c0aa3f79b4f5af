"""Configuration of the search store (section ``logs.search`` of paramedic.yaml), tagged by ``type``.

``type: embedded`` (default) — tantivy indexes, one per time partition, under ``path``::

    logs:
      search:
        type: embedded
        path: data/logs/search        # relative to the config file's folder
        partition_s: 86400            # one index per day
        retention_s: 1209600          # 14 d: older partitions are dropped (null keeps everything)
        max_bytes: 10737418240        # oldest partitions dropped beyond this (null: no limit)

``type: elasticsearch`` — daily indices ``<index_prefix>-YYYY.MM.DD`` via the official client (not verified
against a live cluster)::

    logs:
      search:
        type: elasticsearch
        hosts: ["https://es.example:9200"]
        index_prefix: paramedic-logs
        api_key: ...                  # or username + password

Secrets (``api_key``, ``password``) are :class:`~pydantic.SecretStr`; a config dump shows them, and the
password of a host URL (``https://user:pass@es:9200``), as ``<secret>`` (:mod:`metrics_store.redact`),
as do search errors and the server log.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = ["ElasticsearchSearchConfig", "EmbeddedSearchConfig", "SearchConfig"]


class EmbeddedSearchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["embedded"] = "embedded"
    path: str = Field("data/logs/search", description="Directory of the tantivy partitions.")
    partition_s: int = Field(86_400, gt=0, description="Time span of one index partition.")
    retention_s: int | None = Field(
        14 * 86_400, gt=0, description="Partitions entirely older than this are dropped; null keeps all."
    )
    max_bytes: int | None = Field(
        None, gt=0, description="Oldest partitions are dropped while the store is larger; null: no limit."
    )
    retention_interval_s: float = Field(300.0, gt=0, description="How often retention is applied.")
    writer_heap_bytes: int = Field(64_000_000, ge=15_000_000, description="tantivy indexing memory budget.")


class ElasticsearchSearchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["elasticsearch"]
    hosts: list[str] = Field(min_length=1, description="Elasticsearch URLs, e.g. https://es:9200.")
    index_prefix: str = Field(
        "paramedic-logs", min_length=1, description="Daily indices <prefix>-YYYY.MM.DD."
    )
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_file: str | None = Field(None, description="PEM CA bundle for https hosts (relative to the config).")
    verify_certs: bool = True
    timeout_s: float = Field(30.0, gt=0, description="Per-request timeout.")
    chunk_size: int = Field(2000, gt=0, description="Records per bulk request.")
    max_retries: int = Field(5, ge=0, description="Retries of a bulk chunk after 429/5xx/timeouts.")

    @model_validator(mode="after")
    def _one_auth(self) -> ElasticsearchSearchConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("set both username and password for basic auth (or neither)")
        if self.api_key is not None and self.username is not None:
            raise ValueError("set either api_key or username/password, not both")
        return self


SearchConfig = Annotated[EmbeddedSearchConfig | ElasticsearchSearchConfig, Field(discriminator="type")]
