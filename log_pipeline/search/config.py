"""Configuration of the search store (section ``logs.search`` of paramedic.yaml), tagged by ``type``.

``type: embedded`` (default) — tantivy indexes, one per time partition, under ``path``::

    logs:
      search:
        type: embedded
        path: data/logs/search        # relative to the config file's folder
        partition_s: 86400            # one index per day
        retention_s: 1209600          # 14 d: older partitions are dropped (null keeps everything)
        max_bytes: 10737418240        # oldest partitions dropped beyond this (null: no limit)
        index_process: true           # documents, indexing and commits in a child process (second core)

``type: elasticsearch`` — Elasticsearch or OpenSearch (``engine``), daily indices
``<index_prefix>-YYYY.MM.DD`` through the engine's own maintained client (``elasticsearch`` /
``opensearch-py``); verified live against a 3-node OpenSearch 2.19 cluster::

    logs:
      search:
        type: elasticsearch
        engine: opensearch            # or elasticsearch (the default)
        hosts: ["https://os-1:9200", "https://os-2:9200", "https://os-3:9200"]
        index_prefix: paramedic-logs
        number_of_shards: 3
        number_of_replicas: 1         # one node may die without losing an acknowledged line
        retention_s: 1209600          # 14 d (Elasticsearch: ILM; OpenSearch: Paramedic deletes old indices)
        username: paramedic           # or api_key (Elasticsearch only)
        password: ...

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
    index_process: bool = Field(
        True,
        description="Build documents, index and commit in a child process (a second core); false: in the "
        "server's process (~10 % less CPU in total, fewer lines/s).",
    )


class ElasticsearchSearchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["elasticsearch"]
    engine: Literal["elasticsearch", "opensearch"] = Field(
        "elasticsearch",
        description="The engine behind hosts: picks its client (elasticsearch / opensearch-py).",
    )
    hosts: list[str] = Field(
        min_length=1, description="Engine URLs, e.g. https://es:9200 (several: failover)."
    )
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
    number_of_shards: int = Field(1, ge=1, le=1024, description="Primary shards of each daily index.")
    number_of_replicas: int = Field(1, ge=0, le=16, description="Copies of each shard on other nodes.")
    retention_s: int | None = Field(
        None, ge=86_400, description="Daily indices older than this are deleted; null keeps everything."
    )
    retention_interval_s: float = Field(300.0, gt=0, description="How often retention runs (OpenSearch).")

    @model_validator(mode="after")
    def _one_auth(self) -> ElasticsearchSearchConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("set both username and password for basic auth (or neither)")
        if self.api_key is not None and self.username is not None:
            raise ValueError("set either api_key or username/password, not both")
        if self.api_key is not None and self.engine == "opensearch":
            raise ValueError(
                "api_key is an Elasticsearch credential: with engine opensearch use username/password"
            )
        return self


SearchConfig = Annotated[EmbeddedSearchConfig | ElasticsearchSearchConfig, Field(discriminator="type")]
